//! Downstream selectors (`{ tag }`, `name` and `domain` globs, `except`): parsing,
//! resolution against an account, the property that resolution equals a brute-force
//! computation, and what plans, `reconcile`, `check` and the controller do with them,
//! through the binary and the library against the simulator.

mod common;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;

use common::{cli, manifest_file, path, stderr, stdout};
use mcp_access::cloudflare::types::App;
use mcp_access::inventory::Inventory;
use mcp_access::manifest::{
    self, AppRef, Except, Glob, ManifestError, ProblemKind, Selector, parse_str, resolve_selecting,
};
use mcp_access::sim::{Seed, SimConfig, Simulator};
use proptest::prelude::*;
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(60);

fn no_env(_: &str) -> Option<String> {
    None
}

/// An app as the API lists it.
fn app(uid: &str, name: &str, app_type: &str, domain: &str, tags: &[&str]) -> Value {
    let mut app = json!({"id": uid, "uid": uid, "name": name, "type": app_type, "tags": tags});
    if !domain.is_empty() {
        app["domain"] = json!(domain);
    }
    app
}

fn inventory(apps: &[Value]) -> Inventory {
    Inventory::new(
        apps.iter().cloned().filter_map(App::from_value).collect(),
        Vec::new(),
    )
}

fn lines(err: &ManifestError) -> String {
    err.problems()
        .iter()
        .map(|p| format!("{p} [help: {}]", p.help_text().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------- parsing

#[test]
fn selectors_and_except_parse_next_to_exact_references() {
    let m = parse_str(
        "m.yaml",
        r#"
owner: platform
servers:
  - app: mcp-server-app
    downstream:
      - Internal API
      - { tag: mcp-callable }
      - { domain: "*.Internal.example.com" }
      - { name: "wiki-*" }
      - "team-*"
      - { domain: api.example.com }
    except:
      - { tag: pci }
      - Billing API
      - { name: "legacy-*" }
"#,
        &no_env,
    )
    .unwrap();
    let server = &m.servers[0];
    let exact: Vec<&AppRef> = server.downstream.iter().map(|d| &d.value).collect();
    assert_eq!(
        exact,
        [
            &AppRef::Name("Internal API".into()),
            &AppRef::Domain("api.example.com".into())
        ]
    );
    let selectors: Vec<String> = server
        .selectors
        .iter()
        .map(|s| s.value.to_string())
        .collect();
    assert_eq!(
        selectors,
        [
            "tag mcp-callable",
            "domain *.internal.example.com",
            "name wiki-*",
            "name team-*"
        ]
    );
    assert_eq!(server.selectors[0].at.to_string(), "m.yaml:7:9");
    let except: Vec<&Except> = server.except.iter().map(|e| &e.value).collect();
    assert_eq!(
        except,
        [
            &Except::Selector(Selector::Tag("pci".into())),
            &Except::App(AppRef::Name("Billing API".into())),
            &Except::Selector(Selector::Name(Glob::name("legacy-*"))),
        ]
    );
    assert!(m.uses_tags());
}

#[test]
fn a_server_is_one_app_so_a_star_there_is_refused() {
    let err = parse_str(
        "m.yaml",
        "servers:\n  - app: \"mcp-*\"\n    downstream: [Internal API]\n",
        &no_env,
    )
    .unwrap_err();
    let text = lines(&err);
    assert!(text.contains("m.yaml:2:10"), "{text}");
    assert!(text.contains("makes it a pattern"), "{text}");
    assert!(text.contains("{ uid: ... }"), "{text}");
}

#[test]
fn bad_selectors_are_refused_with_a_fix() {
    let err = parse_str(
        "m.yaml",
        r#"
servers:
  - app: srv
    downstream:
      - { tag: "team-*" }
      - { domain: "*.example.com/admin" }
      - { domain: "***.example.com" }
      - { tags: x }
      - { tag: a, name: b }
    except: everything
"#,
        &no_env,
    )
    .unwrap_err();
    let text = lines(&err);
    for needle in [
        "m.yaml:5:16: tag `team-*` has a `*`; tags match exactly",
        "m.yaml:6:19: domain pattern `*.example.com/admin` has a `/`",
        "has `***`: write `*` (within one label) or `**` (across labels)",
        "unknown field `tags`, did you mean `tag`?",
        "exactly one of `name`, `domain`, `uid`, `tag`; found 2",
        "`except` must be a list of apps, found a string",
    ] {
        assert!(text.contains(needle), "no {needle:?} in:\n{text}");
    }
}

#[test]
fn an_alias_replayed_as_a_boolean_is_not_read_as_its_alias() {
    // `y` replays as the boolean `true` (YAML 1.1); its span is the alias `*d`, which
    // must never become a name (let alone the pattern `*d`).
    let m = parse_str(
        "m.yaml",
        "servers:\n  - app: a\n    downstream: &d [x, y]\n  - app: b\n    downstream: *d\n",
        &no_env,
    )
    .unwrap();
    assert!(m.servers[1].selectors.is_empty());
    assert_eq!(
        m.servers[1].downstream[1].value,
        AppRef::Name("true".into())
    );
}

// ---------------------------------------------------------------- resolution

/// An account with something for every rule.
fn account() -> Vec<Value> {
    vec![
        app(
            "srv",
            "srv",
            "self_hosted",
            "srv.internal.example.com",
            &["mcp-callable"],
        ),
        app("listed", "Listed", "self_hosted", "listed.example.com", &[]),
        app(
            "tagged",
            "Tagged",
            "self_hosted",
            "tagged.example.com",
            &["mcp-callable"],
        ),
        app(
            "deep",
            "Deep",
            "self_hosted",
            "a.b.internal.example.com",
            &[],
        ),
        app(
            "api",
            "Api",
            "self_hosted",
            "API.internal.example.com/v1",
            &[],
        ),
        app("wiki", "wiki-prod", "self_hosted", "wiki.example.com", &[]),
        app("old", "Wiki-old", "self_hosted", "old.example.com", &[]),
        app(
            "card",
            "Card vault",
            "self_hosted",
            "card.example.com",
            &["mcp-callable", "pci"],
        ),
        app(
            "billing",
            "Billing",
            "self_hosted",
            "billing.example.com",
            &["mcp-callable"],
        ),
        app("jira", "Jira", "saas", "", &["mcp-callable"]),
    ]
}

const EVERY_RULE: &str = r#"
owner: platform
servers:
  - app: srv
    downstream:
      - Listed
      - { tag: mcp-callable }
      - { domain: "*.internal.example.com" }
      - { name: "wiki-*" }
    except:
      - { tag: pci }
      - Billing
"#;

#[test]
fn selectors_add_self_hosted_apps_and_except_takes_them_out() {
    let m = parse_str("m.yaml", EVERY_RULE, &no_env).unwrap();
    let inv = inventory(&account());
    let (desired, selection) = resolve_selecting(&m, "platform", &inv).unwrap();
    let names: Vec<&str> = desired.servers[0]
        .downstream
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    // Sorted by uid: api, listed, tagged, wiki.
    assert_eq!(names, ["Api", "Listed", "Tagged", "wiki-prod"]);
    assert!(
        selection.warnings.is_empty(),
        "{:?}",
        selection.warning_lines()
    );

    let s = selection.server("srv").unwrap();
    assert_eq!(
        s.selectors,
        [
            ("tag mcp-callable".to_owned(), 3),
            ("domain *.internal.example.com".to_owned(), 1),
            ("name wiki-*".to_owned(), 1),
        ]
    );
    assert_eq!(s.brought_by("tagged"), ["tag mcp-callable"]);
    assert_eq!(s.brought_by("api"), ["domain *.internal.example.com"]);
    // Listed by name: the manifest, not a selector, declares it.
    assert!(s.brought_by("listed").is_empty());
    let excluded: Vec<(&str, String)> = s
        .excluded
        .iter()
        .map(|(uid, e)| (uid.as_str(), e.by.to_string()))
        .collect();
    assert_eq!(
        excluded,
        [
            ("billing", "\"Billing\"".to_owned()),
            ("card", "tag pci".to_owned())
        ]
    );
    let skipped: Vec<(&str, &str)> = s
        .skipped
        .iter()
        .map(|k| (k.name.as_str(), k.why.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [("srv", "the server itself"), ("Jira", "a `saas` app")]
    );
}

#[test]
fn a_selector_that_matches_nothing_is_a_warning_that_says_why() {
    let m = parse_str(
        "m.yaml",
        r#"
servers:
  - app: srv
    downstream:
      - { tag: mcp-callabel }
      - { tag: unused }
      - { name: "Jira*" }
      - { domain: "*.nowhere.example.com" }
"#,
        &no_env,
    )
    .unwrap();
    let inv = inventory(&account()).with_account_tags(vec![
        "mcp-callable".into(),
        "pci".into(),
        "unused".into(),
    ]);
    let (desired, selection) = resolve_selecting(&m, "default", &inv).unwrap();
    assert!(desired.servers[0].downstream.is_empty());
    let warnings = selection.warning_lines();
    assert_eq!(warnings.len(), 4, "{warnings:#?}");
    for (warning, needle) in warnings.iter().zip([
        "m.yaml:5:9: selector { tag: mcp-callabel } of server \"srv\" matches no app; the account has no tag `mcp-callabel`, did you mean `mcp-callable`?",
        "m.yaml:6:9: selector { tag: unused } of server \"srv\" matches no app; tag `unused` exists but no app carries it",
        "m.yaml:7:9: selector { name: \"Jira*\" } of server \"srv\" matches no app that can be a downstream app (1 matched, none self-hosted)",
        "m.yaml:8:9: selector { domain: \"*.nowhere.example.com\" } of server \"srv\" matches no app",
    ]) {
        assert_eq!(warning, needle);
    }
    assert!(
        selection
            .warnings
            .iter()
            .all(|w| w.kind() == ProblemKind::NoMatch)
    );
    // --strict: the same problems, as errors.
    let err = selection.strict().unwrap_err();
    assert_eq!(err.problems().len(), 4);
    assert!(lines(&err).contains("an error because of --strict"));
}

#[test]
fn without_the_tag_list_the_apps_tags_are_the_candidates() {
    let m = parse_str(
        "m.yaml",
        "servers:\n  - app: srv\n    downstream: [{ tag: PCI }]\n",
        &no_env,
    )
    .unwrap();
    let (_, selection) = resolve_selecting(&m, "default", &inventory(&account())).unwrap();
    assert!(
        selection.warning_lines()[0].contains("the account has no tag `PCI`, did you mean `pci`?"),
        "{:?}",
        selection.warning_lines()
    );
}

#[test]
fn a_pattern_that_is_an_apps_literal_name_warns_and_offers_the_uid() {
    let mut apps = account();
    apps.push(app(
        "star",
        "wiki-*",
        "self_hosted",
        "star.example.com",
        &[],
    ));
    apps.push(app("wild", "Wildcard", "self_hosted", "*.example.com", &[]));
    let m = parse_str(
        "m.yaml",
        "servers:\n  - app: srv\n    downstream:\n      - \"wiki-*\"\n      - { domain: \"*.example.com\" }\n",
        &no_env,
    )
    .unwrap();
    let (desired, selection) = resolve_selecting(&m, "default", &inventory(&apps)).unwrap();
    assert!(desired.servers[0].downstream.len() > 2);
    let warnings = selection.warning_lines().join("\n");
    assert!(
        warnings.contains("{ name: \"wiki-*\" } is a pattern (it has a `*`) and matches 2 app(s), not only app `wiki-*` whose name it is"),
        "{warnings}"
    );
    assert!(
        warnings.contains("not only app `Wildcard` whose domain it is"),
        "{warnings}"
    );
    let help: Vec<&str> = selection
        .warnings
        .iter()
        .filter_map(|w| w.help_text())
        .collect();
    assert!(help.contains(&"to name only that app, write `{ uid: star }`"));
}

#[test]
fn except_of_a_listed_app_warns_and_an_unknown_exact_except_is_an_error() {
    let m = parse_str(
        "m.yaml",
        "servers:\n  - app: srv\n    downstream: [Listed, Tagged]\n    except: [Listed]\n",
        &no_env,
    )
    .unwrap();
    let (desired, selection) = resolve_selecting(&m, "default", &inventory(&account())).unwrap();
    assert_eq!(desired.servers[0].downstream.len(), 1);
    assert!(selection.warning_lines()[0].contains(
        "app `Listed` is listed as a downstream app of server \"srv\" and excluded by `except` \"Listed\"; it is excluded"
    ));

    // A typo in `except` must not quietly exclude nothing.
    let m = parse_str(
        "m.yaml",
        "servers:\n  - app: srv\n    downstream: [{ tag: mcp-callable }]\n    except: [Biling]\n",
        &no_env,
    )
    .unwrap();
    let err = resolve_selecting(&m, "default", &inventory(&account())).unwrap_err();
    assert!(
        lines(&err)
            .contains("m.yaml:4:14: no app \"Biling\" in the account, did you mean `Billing`?"),
        "{}",
        lines(&err)
    );
}

// ---------------------------------------------------------------- properties

/// The brute-force oracle: a glob as a regex, built independently of [`Glob`].
fn oracle(pattern: &str, domain: bool) -> regex::Regex {
    let mut re = String::from("^");
    let mut rest = pattern;
    while !rest.is_empty() {
        if domain && rest.starts_with("**") {
            re.push_str("(?s:.*)");
            rest = &rest[2..];
        } else if rest.starts_with('*') {
            re.push_str(if domain { "[^.]*" } else { "(?s:.*)" });
            rest = &rest[1..];
        } else {
            let c = rest.chars().next().unwrap();
            re.push_str(&regex::escape(&c.to_string()));
            rest = &rest[c.len_utf8()..];
        }
    }
    re.push('$');
    regex::Regex::new(&re).unwrap()
}

fn name_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop::sample::select(vec!['a', 'b', 'A', ' ', '.', '-', 'é', '*', '?']),
        0..7,
    )
    .prop_map(|c| c.into_iter().collect())
}

fn name_pattern() -> impl Strategy<Value = String> {
    (name_text(), 0..8usize).prop_map(|(mut text, at)| {
        let at = text
            .char_indices()
            .map(|(i, _)| i)
            .nth(at)
            .unwrap_or(text.len());
        text.insert(at, '*');
        text
    })
}

fn host_label() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "ab", "B", "x-1", "*"]).prop_map(str::to_owned)
}

fn domain_text() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(host_label(), 1..4),
        prop::sample::select(vec!["", "/", "/p/q"]),
    )
        .prop_map(|(labels, path)| format!("{}.example.com{path}", labels.join(".")))
}

fn pattern_label() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "*", "**", "a*", "*b", "x-*", "A"]).prop_map(str::to_owned)
}

fn domain_pattern() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(pattern_label(), 1..4),
        prop::sample::select(vec![".example.com", ".com", ""]),
    )
        .prop_filter_map("a pattern needs a `*`", |(labels, tail)| {
            let p = format!("{}{tail}", labels.join("."));
            p.contains('*').then_some(p)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn name_globs_match_what_the_regex_oracle_matches(
        pattern in name_pattern(),
        text in name_text(),
    ) {
        let glob = Glob::name(&pattern);
        prop_assert_eq!(glob.matches(&text), oracle(&pattern, false).is_match(&text));
    }

    #[test]
    fn domain_globs_match_what_the_regex_oracle_matches(
        pattern in domain_pattern(),
        domain in domain_text(),
    ) {
        let glob = Glob::domain(&pattern).unwrap();
        let host = domain.split('/').next().unwrap().to_ascii_lowercase();
        let expected = oracle(&pattern.to_ascii_lowercase(), true).is_match(&host);
        prop_assert_eq!(glob.matches_host(&domain), expected);
    }
}

/// One random app: (name, domain, tags, type).
fn random_app() -> impl Strategy<Value = (String, String, Vec<&'static str>, &'static str)> {
    (
        name_text(),
        domain_text(),
        proptest::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 0..3),
        prop::sample::select(vec!["self_hosted", "self_hosted", "saas", "ssh"]),
    )
}

#[derive(Debug, Clone)]
enum RandomSelector {
    Tag(&'static str),
    Name(String),
    Domain(String),
}

impl RandomSelector {
    fn yaml(&self) -> String {
        match self {
            RandomSelector::Tag(t) => format!("{{ tag: {t} }}"),
            RandomSelector::Name(n) => format!("{{ name: {} }}", json!(n)),
            RandomSelector::Domain(d) => format!("{{ domain: {} }}", json!(d)),
        }
    }

    /// Brute force: does the selector match this app?
    fn matches(&self, name: &str, domain: &str, tags: &[&str]) -> bool {
        match self {
            RandomSelector::Tag(t) => tags.contains(t),
            RandomSelector::Name(p) => oracle(p, false).is_match(name),
            RandomSelector::Domain(p) => {
                let host = domain.split('/').next().unwrap().to_ascii_lowercase();
                oracle(&p.to_ascii_lowercase(), true).is_match(&host)
            }
        }
    }
}

fn random_selector() -> impl Strategy<Value = RandomSelector> {
    prop_oneof![
        prop::sample::select(vec!["a", "b", "c", "d"]).prop_map(RandomSelector::Tag),
        name_pattern()
            .prop_filter("not trimmed away", |p| p.trim() == p)
            .prop_map(RandomSelector::Name),
        domain_pattern().prop_map(RandomSelector::Domain),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Resolution (indexes, union, `except`, type and self filters) gives exactly the
    /// set a brute-force walk over every app computes.
    #[test]
    fn resolution_equals_brute_force(
        apps in proptest::collection::vec(random_app(), 0..25),
        selectors in proptest::collection::vec(random_selector(), 1..4),
        except in proptest::collection::vec(random_selector(), 0..3),
        server_domain in domain_text(),
    ) {
        let mut values = vec![app("server", "server", "self_hosted", &server_domain, &["a"])];
        for (i, (name, domain, tags, app_type)) in apps.iter().enumerate() {
            values.push(app(&format!("app-{i:02}"), name, app_type, domain, tags));
        }
        let mut text = String::from("servers:\n  - app: { uid: server }\n    downstream:\n");
        for s in &selectors {
            writeln!(text, "      - {}", s.yaml()).unwrap();
        }
        if !except.is_empty() {
            text.push_str("    except:\n");
            for s in &except {
                writeln!(text, "      - {}", s.yaml()).unwrap();
            }
        }
        let m = parse_str("p.yaml", &text, &no_env).unwrap();
        let (desired, _) = resolve_selecting(&m, "default", &inventory(&values)).unwrap();
        let got: BTreeSet<String> =
            desired.servers[0].downstream.iter().map(|d| d.uid.clone()).collect();

        let expected: BTreeSet<String> = apps
            .iter()
            .enumerate()
            .filter(|(_, (name, domain, tags, app_type))| {
                *app_type == "self_hosted"
                    && selectors.iter().any(|s| s.matches(name, domain, tags))
                    && !except.iter().any(|s| s.matches(name, domain, tags))
            })
            .map(|(i, _)| format!("app-{i:02}"))
            .collect();
        prop_assert_eq!(got, expected);
    }
}

// ---------------------------------------------------------------- through the binary

/// An MCP server, `tagged` self-hosted apps with `mcp-callable`, a PCI app that also
/// has the tag, and a SaaS app with it.
fn tagged_account(tagged: usize) -> Seed {
    let mut apps = vec![json!({
        "id": "00000000-0000-4000-8000-000000000001",
        "name": "mcp-server", "type": "self_hosted", "domain": "mcp.example.com",
    })];
    for i in 0..tagged {
        apps.push(json!({
            "id": format!("00000000-0000-4000-8000-1000000000{i:02}"),
            "name": format!("app-{i:02}"), "type": "self_hosted",
            "domain": format!("app-{i:02}.internal.example.com"),
            "tags": ["mcp-callable"],
        }));
    }
    apps.push(json!({
        "id": "00000000-0000-4000-8000-000000000002",
        "name": "Card vault", "type": "self_hosted", "domain": "card.example.com",
        "tags": ["mcp-callable", "pci"],
    }));
    apps.push(json!({
        "id": "00000000-0000-4000-8000-000000000003",
        "name": "Jira", "type": "saas", "saas_app": {"auth_type": "saml"},
        "tags": ["mcp-callable"],
    }));
    Seed {
        apps,
        ..Seed::default()
    }
}

const BY_TAG: &str = "
owner: platform
servers:
  - app: mcp-server
    downstream:
      - { tag: mcp-callable }
    except:
      - { tag: pci }
";

/// How many apps link the server's managed policy.
fn linked(sim: &Simulator) -> usize {
    sim.apps()
        .iter()
        .filter(|a| {
            a["policies"].as_array().unwrap().iter().any(|p| {
                p["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("[mcp-access:platform]"))
            })
        })
        .count()
}

fn untag(sim: &Simulator, name_prefix: &str) {
    let ids: Vec<String> = sim
        .apps()
        .into_iter()
        .filter(|a| a["name"].as_str().unwrap().starts_with(name_prefix))
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    for id in ids {
        sim.edit_app(&id, |app| {
            app.insert("tags".into(), json!([]));
        });
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn plans_say_which_selector_brought_each_attach_in_every_format() {
    let sim = Simulator::start(SimConfig::default(), tagged_account(3))
        .await
        .unwrap();
    let file = manifest_file(BY_TAG);
    let text = stdout(
        &cli(&sim)
            .args(["plan", "-f", &path(&file)])
            .assert()
            .success(),
    );
    for needle in [
        "  > attach to \"app-00\" (matched tag mcp-callable)\n",
        "Selectors\n  \"mcp-server\": tag mcp-callable (4 apps)\n",
        "  \"mcp-server\" excludes \"Card vault\" (except tag pci)\n",
        "  \"mcp-server\" skips what cannot be a downstream app: \"Jira\" (a `saas` app)\n",
        "Plan: 1 to create, 0 to update, 3 to attach, 0 to detach, 0 to delete.\n",
    ] {
        assert!(text.contains(needle), "no {needle:?} in:\n{text}");
    }
    assert!(!text.contains("Card vault\" (matched"), "{text}");

    let doc: Value = serde_json::from_str(&stdout(
        &cli(&sim)
            .args(["plan", "-o", "json", "-f", &path(&file)])
            .assert()
            .success(),
    ))
    .unwrap();
    let attach = doc["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "attach")
        .unwrap();
    assert_eq!(attach["cause"], "membership");
    assert_eq!(attach["selectors"], json!(["tag mcp-callable"]));
    assert_eq!(
        doc["summary"]["by_cause"],
        json!({"manifest": 1, "membership": 3})
    );
    assert_eq!(
        doc["selection"]["selectors"][0],
        json!({"server": {"uid": "00000000-0000-4000-8000-000000000001", "name": "mcp-server"},
               "selector": "tag mcp-callable", "matches": 4})
    );
    assert_eq!(doc["selection"]["skipped"][0]["app"]["name"], "Jira");
    assert_eq!(doc["selection"]["excluded"][0]["by"], "tag pci");

    let md = stdout(
        &cli(&sim)
            .args(["plan", "-o", "markdown", "-f", &path(&file)])
            .assert()
            .success(),
    );
    assert!(
        md.contains("| mcp-server | app-00 | 🔗 attach (matched tag mcp-callable) |"),
        "{md}"
    );
    assert!(
        md.contains("#### Selectors\n\n| Server | Selector | Apps it matches |"),
        "{md}"
    );
    assert!(sim.writes().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tag_removed_in_the_dashboard_does_not_silently_detach_thirty_apps() {
    let sim = Simulator::start(SimConfig::default(), tagged_account(30))
        .await
        .unwrap();
    let file = manifest_file(BY_TAG);
    cli(&sim)
        .args(["reconcile", "-f", &path(&file)])
        .assert()
        .success();
    assert_eq!(linked(&sim), 30);

    // Someone removes the tag from every app in the dashboard.
    untag(&sim, "app-");
    sim.clear_journal();

    let plan = stdout(
        &cli(&sim)
            .args(["plan", "-f", &path(&file)])
            .assert()
            .success(),
    );
    for needle in [
        "  < detach \"[mcp-access:platform] MCP server mcp-server\" from \"app-00\" (no longer matches tag mcp-callable)\n",
        "Plan: 0 to create, 0 to update, 0 to attach, 30 to detach, 0 to delete.\n",
        "Selectors: \"mcp-server\" is linked to 30 apps that its selectors no longer match (tag mcp-callable brings in no app now).\n",
        "apply will refuse this plan: the plan detaches 30 of 30 managed links (100%), more than --max-delete-percent 30 allows.",
        "warning: ",
    ] {
        assert!(plan.contains(needle), "no {needle:?} in:\n{plan}");
    }
    let md = stdout(
        &cli(&sim)
            .args(["plan", "-o", "markdown", "-f", &path(&file)])
            .assert()
            .success(),
    );
    assert!(
        md.contains("> [!IMPORTANT]\n> **Selectors no longer match linked apps.**\n> mcp-server is linked to 30 apps"),
        "{md}"
    );

    // reconcile refuses: nothing is written, the refusal names the flag.
    let refused = cli(&sim)
        .args(["reconcile", "-f", &path(&file)])
        .assert()
        .code(1);
    assert!(
        stderr(&refused).contains("--max-delete-percent"),
        "{}",
        stderr(&refused)
    );
    // --strict stops it earlier, at the selector, with its place in the manifest.
    let strict = cli(&sim)
        .args(["reconcile", "--strict", "--force", "-f", &path(&file)])
        .assert()
        .code(1);
    let err = stderr(&strict);
    assert!(
        err.contains("selector { tag: mcp-callable } of server \"mcp-server\" matches no app that `except` leaves in (1 matched, all taken out)"),
        "{err}"
    );
    assert!(err.contains("an error because of --strict"), "{err}");
    assert!(sim.writes().is_empty(), "{:?}", sim.writes());
    assert_eq!(linked(&sim), 30);

    // upsert-only never detaches; --force does, when that is what is wanted.
    cli(&sim)
        .args(["reconcile", "--policy", "upsert-only", "-f", &path(&file)])
        .assert()
        .success();
    assert_eq!(linked(&sim), 30);
    cli(&sim)
        .args(["reconcile", "--force", "-f", &path(&file)])
        .assert()
        .success();
    assert_eq!(linked(&sim), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn max_attach_refuses_a_plan_that_adds_too_many_links() {
    let sim = Simulator::start(SimConfig::default(), tagged_account(12))
        .await
        .unwrap();
    let file = manifest_file(BY_TAG);
    let plan = stdout(
        &cli(&sim)
            .args(["plan", "--max-attach", "10", "-f", &path(&file)])
            .assert()
            .success(),
    );
    assert!(
        plan.contains("apply will refuse this plan: the plan adds 12 links (12 of them brought by selectors), more than --max-attach 10 allows. If that is intended, raise --max-attach."),
        "{plan}"
    );
    cli(&sim)
        .args([
            "reconcile",
            "--max-attach",
            "10",
            "--force",
            "-f",
            &path(&file),
        ])
        .assert()
        .code(1);
    assert!(sim.writes().is_empty());
    cli(&sim)
        .args(["reconcile", "--max-attach", "12", "-f", &path(&file)])
        .assert()
        .success();
    assert_eq!(linked(&sim), 12);
}

#[tokio::test(flavor = "multi_thread")]
async fn check_marks_links_declared_by_selector() {
    let sim = Simulator::start(SimConfig::default(), Seed::demo())
        .await
        .unwrap();
    let file = manifest_file(
        "
owner: platform
servers:
  - app: mcp-server-app
    downstream:
      - Internal API
      - { tag: mcp-callable }
    except:
      - { tag: pci }
",
    );
    cli(&sim)
        .args(["reconcile", "-f", &path(&file)])
        .assert()
        .success();
    let report = stdout(
        &cli(&sim)
            .args(["check", "--from", "mcp-server-app", "-f", &path(&file)])
            .assert()
            .success(),
    );
    for needle in [
        "-> \"Company wiki\" (0d5c8f7e-0005-4000-8000-0000000000a5): granted, declared by selector tag mcp-callable",
        // Listed by name as well: an exact reference declares it.
        "-> \"Internal API\" (0d5c8f7e-0004-4000-8000-0000000000a4): granted, declared\n",
    ] {
        assert!(report.contains(needle), "no {needle:?} in:\n{report}");
    }
    let json: Value = serde_json::from_str(&stdout(
        &cli(&sim)
            .args(["check", "-o", "json", "-f", &path(&file)])
            .assert()
            .success(),
    ))
    .unwrap();
    let wiki = json["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["to"]["name"] == "Company wiki")
        .unwrap();
    assert_eq!(wiki["declared_by"], json!(["tag mcp-callable"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_simulator_lists_tags_with_their_app_counts() {
    tokio::time::timeout(TIMEOUT, async {
        let sim = Simulator::start(SimConfig::default(), tagged_account(2))
            .await
            .unwrap();
        sim.add_tag("unused");
        let http = reqwest::Client::new();
        let url = format!(
            "{}/accounts/{}/access/tags",
            sim.base_url(),
            sim.account_id()
        );
        let body: Value = http
            .get(&url)
            .bearer_auth(sim.token())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let tags: Vec<(String, u64)> = body["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["name"].as_str().unwrap().to_owned(),
                    t["app_count"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            tags,
            [
                ("unused".to_owned(), 0),
                ("mcp-callable".to_owned(), 4),
                ("pci".to_owned(), 1)
            ]
        );
        assert_eq!(body["result_info"]["total_count"], 3);

        // An app's tags are a list of names.
        let app = sim.apps()[1].clone();
        let mut put = app.clone();
        put["tags"] = json!("mcp-callable");
        put["policies"] = json!([]);
        let response = http
            .put(format!(
                "{}/accounts/{}/access/apps/{}",
                sim.base_url(),
                sim.account_id(),
                app["id"].as_str().unwrap()
            ))
            .bearer_auth(sim.token())
            .json(&put)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400);
        sim.shutdown().await;
    })
    .await
    .expect("test timed out");
}

// ---------------------------------------------------------------- the controller

#[tokio::test(flavor = "multi_thread")]
async fn the_controller_links_a_newly_tagged_app_and_counts_it_as_membership() {
    use mcp_access::cloudflare::ApiSettings;
    use mcp_access::controller::{Controller, Jitter, RunOptions};
    use secrecy::SecretString;
    use tokio_util::sync::CancellationToken;

    tokio::time::timeout(TIMEOUT, async {
        let sim = Simulator::start(SimConfig::default(), tagged_account(10))
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("access.yaml");
        std::fs::write(&manifest, BY_TAG).unwrap();
        let options = RunOptions {
            safety: mcp_access::safety::Safety::default(),
            files: vec![manifest.clone()],
            interval: Duration::from_secs(1),
            jitter: Jitter::NONE,
            listen: "127.0.0.1:0".parse().unwrap(),
            once: false,
            grace_period: Duration::from_secs(5),
            backoff_base: Duration::from_millis(50),
            api_retry_deadline: Duration::from_secs(5),
            plan: mcp_access::plan::PlanOptions::default(),
            adopt: false,
            mode: mcp_access::controller::RunMode::Heal,
            notify: mcp_access::notify::NotifySettings::default(),
        };
        let api = ApiSettings {
            base_url: sim.base_url(),
            account_id: Some(sim.account_id().to_owned()),
            token: Some(SecretString::from(sim.token().to_owned())),
            progress: false,
            ..ApiSettings::default()
        };
        let mut controller = Controller::new(options, api, None);
        let metrics = controller.state().metrics.clone();
        let cancel = CancellationToken::new();
        let pending = |cause: &str| {
            let series = format!("mcp_access_pending_changes{{cause=\"{cause}\"}} ");
            metrics
                .encode()
                .lines()
                .find_map(|l| l.strip_prefix(&series).map(str::to_owned))
                .unwrap_or_else(|| panic!("no {series}"))
        };

        // First cycle: the policy (manifest) and ten links (membership).
        assert!(controller.reconcile_once(&cancel).await.result.is_ok());
        assert_eq!(
            (pending("manifest"), pending("membership")),
            ("1".into(), "10".into())
        );
        assert_eq!(linked(&sim), 10);

        // A new app, tagged in the dashboard: linked on the next cycle, no manifest change.
        let http = reqwest::Client::new();
        let created: Value = http
            .post(format!(
                "{}/accounts/{}/access/apps",
                sim.base_url(),
                sim.account_id()
            ))
            .bearer_auth(sim.token())
            .json(&json!({"name": "New tool", "type": "self_hosted",
                          "domain": "new-tool.example.com", "tags": ["mcp-callable"]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(created["success"], true);
        let tick = controller.reconcile_once(&cancel).await;
        let outcome = tick.result.unwrap();
        assert_eq!(outcome.first_plan.summary().attach, 1);
        assert_eq!(
            (pending("manifest"), pending("membership")),
            ("0".into(), "1".into())
        );
        assert_eq!(linked(&sim), 11);

        // A tag removed from every app: refused by --max-delete-percent (11 of 11), and
        // the refused plan's changes are pending, counted as membership.
        untag(&sim, "");
        let tick = controller.reconcile_once(&cancel).await;
        let err = tick.result.unwrap_err().to_string();
        assert!(err.contains("--max-delete-percent"), "{err}");
        assert_eq!(
            (pending("manifest"), pending("membership")),
            ("0".into(), "11".into())
        );
        assert_eq!(linked(&sim), 11);
        sim.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[test]
fn every_selector_variant_is_reachable_from_the_manifest_module() {
    // `manifest::selector` is public for library users who build manifests in code.
    assert!(manifest::selector::is_pattern("a*"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_goes_stale_when_a_tag_changes_and_strict_refuses_its_warnings() {
    let sim = Simulator::start(SimConfig::default(), tagged_account(3))
        .await
        .unwrap();
    let file = manifest_file(BY_TAG);
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("plan.json");
    let saved = saved.to_str().unwrap();
    cli(&sim)
        .args(["plan", "-q", "--out", saved, "-f", &path(&file)])
        .assert()
        .success();
    // A plan depends on the apps' tags: one removed since makes it stale.
    untag(&sim, "app-02");
    let stale = cli(&sim).args(["apply", saved]).assert().code(1);
    assert!(
        stderr(&stale).contains("Saved plan is stale") && stderr(&stale).contains("app \"app-02\""),
        "{}",
        stderr(&stale)
    );
    assert!(sim.writes().is_empty());

    // A saved plan with a selector warning: applied as reviewed, unless --strict.
    let typo = manifest_file(
        "
owner: platform
servers:
  - app: mcp-server
    downstream: [app-00, { tag: mcp-callabel }]
",
    );
    cli(&sim)
        .args(["plan", "-q", "--out", saved, "-f", &path(&typo)])
        .assert()
        .success();
    let refused = cli(&sim)
        .args(["apply", "--strict", saved])
        .assert()
        .code(1);
    assert!(
        stdout(&refused).contains("--strict: the plan has 1 selector warning(s)"),
        "{}",
        stdout(&refused)
    );
    assert!(sim.writes().is_empty());
    cli(&sim).args(["apply", saved]).assert().success();
    assert_eq!(linked(&sim), 1);
}

// ---------------------------------------------------------------- with the account model

/// Selectors obey the same type rules as exact references: an `mcp` server app (a
/// server itself) and an `mcp_portal` are never downstream apps, and an `mcp` app can
/// be the server whose selectors pick apps.
#[test]
fn selectors_skip_mcp_and_portal_apps_and_an_mcp_server_may_select() {
    let apps = vec![
        app("mcp", "docs-mcp", "mcp", "", &["mcp-callable"]),
        app(
            "portal",
            "AI portal",
            "mcp_portal",
            "portal.example.com",
            &["mcp-callable"],
        ),
        app(
            "api",
            "Api",
            "self_hosted",
            "api.example.com",
            &["mcp-callable"],
        ),
    ];
    let m = parse_str(
        "m.yaml",
        "servers:\n  - app: docs-mcp\n    downstream:\n      - { tag: mcp-callable }\n",
        &no_env,
    )
    .unwrap();
    let (desired, selection) = resolve_selecting(&m, "platform", &inventory(&apps)).unwrap();
    assert_eq!(desired.servers[0].kind.app_type(), "mcp");
    let downstream: Vec<&str> = desired.servers[0]
        .downstream
        .iter()
        .map(|d| d.uid.as_str())
        .collect();
    assert_eq!(downstream, ["api"]);
    let skipped: Vec<(&str, &str)> = selection.servers[0]
        .skipped
        .iter()
        .map(|k| (k.uid.as_str(), k.why.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [
            ("mcp", "the server itself"),
            ("portal", "an `mcp_portal` app (an MCP server portal)")
        ]
    );

    // Another server: the `mcp` app is skipped for its type, as an exact reference to
    // it would be refused.
    let m = parse_str(
        "m.yaml",
        "servers:\n  - app: Api\n    downstream:\n      - { name: \"*\" }\n",
        &no_env,
    )
    .unwrap();
    let (desired, selection) = resolve_selecting(&m, "platform", &inventory(&apps)).unwrap();
    assert!(desired.servers[0].downstream.is_empty());
    let skipped: Vec<&str> = selection.servers[0]
        .skipped
        .iter()
        .map(|k| k.why.as_str())
        .collect();
    assert_eq!(
        skipped,
        [
            "an `mcp` app (an MCP server)",
            "an `mcp_portal` app (an MCP server portal)",
            "the server itself"
        ]
    );
    let exact = parse_str(
        "m.yaml",
        "servers:\n  - app: Api\n    downstream: [docs-mcp]\n",
        &no_env,
    )
    .unwrap();
    let err = resolve_selecting(&exact, "platform", &inventory(&apps)).unwrap_err();
    assert_eq!(
        err.problems()[0].kind(),
        ProblemKind::WrongType,
        "{}",
        lines(&err)
    );
}

/// A selector-matched app that carries a legacy policy: the attach is blocked and still
/// says which selector brought it; with `--convert-legacy` it is made, and the
/// conversion counts as a manifest change.
#[tokio::test(flavor = "multi_thread")]
async fn a_blocked_or_converted_attach_keeps_the_selector_that_brought_it() {
    tokio::time::timeout(TIMEOUT, async {
        let sim = Simulator::start(SimConfig::default(), tagged_account(2))
            .await
            .unwrap();
        sim.add_legacy_policy(
            "00000000-0000-4000-8000-100000000001",
            &json!({"name": "app-01 readers (legacy)", "decision": "allow",
                    "include": [{"email_domain": {"domain": "example.com"}}]}),
            3,
        )
        .unwrap();
        let file = manifest_file(BY_TAG);

        let text = stdout(
            &cli(&sim)
                .args(["plan", "-f", &path(&file)])
                .assert()
                .success(),
        );
        for needle in [
            "  > attach to \"app-00\" (matched tag mcp-callable)\n",
            "  ! attach to \"app-01\" BLOCKED (see below) (matched tag mcp-callable)\n",
            "attach \"[mcp-access:platform] MCP server mcp-server\" (matched tag mcp-callable)\n",
            "Plan: 1 to create, 0 to update, 1 to attach, 0 to detach, 0 to delete; 1 link change blocked.\n",
        ] {
            assert!(text.contains(needle), "no {needle:?} in:\n{text}");
        }

        let doc: Value = serde_json::from_str(&stdout(
            &cli(&sim)
                .args(["plan", "-o", "json", "-f", &path(&file)])
                .assert()
                .success(),
        ))
        .unwrap();
        let blocked = &doc["blocked"][0];
        assert_eq!(blocked["app"]["name"], "app-01");
        assert_eq!(blocked["attach"][0]["cause"], "membership");
        assert_eq!(blocked["attach"][0]["selectors"], json!(["tag mcp-callable"]));
        // Blocked links are in no count but `blocked`.
        assert_eq!(
            doc["summary"]["by_cause"],
            json!({"manifest": 1, "membership": 1})
        );
        assert_eq!(doc["summary"]["blocked"], 1);

        let doc: Value = serde_json::from_str(&stdout(
            &cli(&sim)
                .args(["plan", "--convert-legacy", "-o", "json", "-f", &path(&file)])
                .assert()
                .success(),
        ))
        .unwrap();
        assert!(doc.get("blocked").is_none(), "{doc:#}");
        let attaches: Vec<&Value> = doc["actions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["kind"] == "attach")
            .collect();
        assert_eq!(attaches.len(), 2);
        assert!(
            attaches
                .iter()
                .all(|a| a["cause"] == "membership" && a["selectors"] == json!(["tag mcp-callable"])),
            "{doc:#}"
        );
        // One create and one conversion are the manifest's (and the flag's).
        assert_eq!(
            doc["summary"]["by_cause"],
            json!({"manifest": 2, "membership": 2})
        );
        assert!(sim.writes().is_empty());
    })
    .await
    .unwrap();
}

/// The tag list only words warnings: when `GET /access/tags` answers a bad read, the
/// plan says so on stderr and tag selectors still match the apps' own tags.
#[tokio::test(flavor = "multi_thread")]
async fn a_bad_tag_list_read_is_a_warning_and_tag_selectors_still_match() {
    tokio::time::timeout(TIMEOUT, async {
        let sim = Simulator::start(SimConfig::default(), tagged_account(2))
            .await
            .unwrap();
        sim.set_misbehaviour("null-result=tags".parse().unwrap());
        let file = manifest_file(BY_TAG);
        let assert = cli(&sim)
            .args(["plan", "-f", &path(&file)])
            .assert()
            .success();
        let text = stdout(&assert);
        assert!(
            text.contains("  > attach to \"app-01\" (matched tag mcp-callable)\n"),
            "{text}"
        );
        let err = stderr(&assert);
        assert!(err.contains("cannot read the account's tags"), "{err}");
        assert!(sim.writes().is_empty());
    })
    .await
    .unwrap();
}
