//! The manifest module through its public surface: loading files and directories,
//! `${ENV}` interpolation, validation problems with their places and hints, limits,
//! and resolution against an inventory.

use std::path::{Path, PathBuf};

use mcp_access::cloudflare::types::{App, Policy};
use mcp_access::inventory::Inventory;
use mcp_access::manifest::{
    self, AppRef, Desired, ManifestError, ProblemKind, ServerKind, load_with_env, parse_str,
    resolve,
};
use serde_json::{Value, json};

const SUPPORT_UID: &str = "0f3c2a9e-5b7d-4e61-9a8b-2c4d6e8f0a1b";

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/manifest")
        .join(rel)
}

fn env(name: &str) -> Option<String> {
    match name {
        "CLOUDFLARE_ACCOUNT_ID" => Some("acc-123".to_owned()),
        "TEAM" => Some("platform".to_owned()),
        _ => None,
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn parse_err(text: &str) -> ManifestError {
    parse_str("m.yaml", text, &env).expect_err("manifest should be refused")
}

/// Every problem as its one-line `path:line:col: message` form plus help.
fn lines(err: &ManifestError) -> Vec<String> {
    err.problems()
        .iter()
        .map(|p| match p.help_text() {
            Some(h) => format!("{p} [help: {h}]"),
            None => p.to_string(),
        })
        .collect()
}

fn assert_has(err: &ManifestError, needle: &str) {
    assert!(
        lines(err).iter().any(|l| l.contains(needle)),
        "no problem contains {needle:?}; problems:\n{}",
        lines(err).join("\n")
    );
}

fn render(err: &ManifestError) -> String {
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .render_report(&mut out, err)
        .unwrap();
    out
}

// ---------------------------------------------------------------- loading

#[test]
fn a_directory_loads_its_yaml_files_by_name_and_merges_them() {
    let m = load_with_env(&[fixture("multi")], &env).unwrap();
    let names: Vec<_> = m
        .files
        .iter()
        .map(|f| f.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(names, ["10-platform.yaml", "20-support.yml"]);
    assert_eq!(m.owner.as_deref(), Some("platform"));
    assert_eq!(m.account_id.as_deref(), Some("acc-123"));
    assert_eq!(m.servers.len(), 2);
    assert_eq!(
        m.servers[0].app.value,
        AppRef::Name("mcp-server-app".into())
    );
    assert_eq!(
        m.servers[0]
            .downstream
            .iter()
            .map(|d| d.value.clone())
            .collect::<Vec<_>>(),
        [
            AppRef::Name("Internal API".into()),
            AppRef::Name("Company wiki".into())
        ]
    );
    let support = &m.servers[1];
    assert_eq!(
        support.app.value,
        AppRef::Domain("support-mcp.example.com".into())
    );
    assert!(support.app.at.file().ends_with("20-support.yml"));
    assert_eq!((support.app.at.line(), support.app.at.column()), (4, 10));
    assert_eq!(support.downstream[0].value, AppRef::Uid(SUPPORT_UID.into()));
    assert_eq!(support.downstream[0].at.line(), 6);
    assert_eq!(m.digest.len(), 64);
}

#[test]
fn the_digest_follows_names_contents_and_order() {
    let dir = load_with_env(&[fixture("multi")], &env).unwrap();
    let files = load_with_env(
        &[
            fixture("multi/10-platform.yaml"),
            fixture("multi/20-support.yml"),
        ],
        &env,
    )
    .unwrap();
    assert_eq!(dir.digest, files.digest);
    let reversed = load_with_env(
        &[
            fixture("multi/20-support.yml"),
            fixture("multi/10-platform.yaml"),
        ],
        &env,
    )
    .unwrap();
    assert_ne!(dir.digest, reversed.digest);
    let base = parse_str("m.yaml", "servers: []\n", &env).unwrap();
    let edited = parse_str("m.yaml", "servers: [ ]\n", &env).unwrap();
    let renamed = parse_str("n.yaml", "servers: []\n", &env).unwrap();
    assert_ne!(base.digest, edited.digest);
    assert_ne!(base.digest, renamed.digest);
}

#[test]
fn a_file_named_twice_is_read_once() {
    let m = load_with_env(&[fixture("multi"), fixture("multi/10-platform.yaml")], &env).unwrap();
    assert_eq!(m.files.len(), 2);
    assert_eq!(m.servers.len(), 2);
}

#[test]
fn missing_paths_and_empty_directories_are_clear_errors() {
    let err = load_with_env(&[fixture("nope.yaml"), fixture("empty-dir")], &env).unwrap_err();
    assert_eq!(err.problems().len(), 2);
    assert!(err.problems().iter().all(|p| p.kind() == ProblemKind::Io));
    assert_has(&err, "nope.yaml: no such file or directory");
    assert_has(
        &err,
        "empty-dir: directory has no `*.yaml` or `*.yml` manifest files",
    );
    assert!(
        load_with_env(&[], &env)
            .unwrap_err()
            .to_string()
            .contains("no manifest path")
    );
}

#[test]
fn empty_and_serverless_manifests_are_valid() {
    for text in [
        "",
        "# nothing yet\n",
        "servers: []\n",
        "servers:\n",
        "version: 1\nowner: team-a\n",
    ] {
        let m = parse_str("m.yaml", text, &env).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert!(m.servers.is_empty());
    }
    assert_eq!(
        parse_str("m.yaml", "owner: team-a\n", &env)
            .unwrap()
            .owner
            .as_deref(),
        Some("team-a")
    );
}

#[test]
fn numbers_and_flow_style_are_accepted_as_names() {
    let m = parse_str(
        "m.yaml",
        "servers:\n  - app: 2024\n    downstream: [\"a b\", { name: c }]\n",
        &env,
    )
    .unwrap();
    assert_eq!(m.servers[0].app.value, AppRef::Name("2024".into()));
    assert_eq!(m.servers[0].downstream[1].value, AppRef::Name("c".into()));
}

// ---------------------------------------------------------------- env

#[test]
fn env_variables_are_interpolated_with_defaults_and_escapes() {
    let m = parse_str(
        "m.yaml",
        "owner: ${TEAM}\naccount_id: ${CLOUDFLARE_ACCOUNT_ID}\nservers:\n  - app: ${SERVER:-mcp}-$${x}\n    downstream: [\"${TEAM} wiki\"]\n",
        &env,
    )
    .unwrap();
    assert_eq!(m.owner.as_deref(), Some("platform"));
    assert_eq!(m.account_id.as_deref(), Some("acc-123"));
    assert_eq!(m.servers[0].app.value, AppRef::Name("mcp-${x}".into()));
    assert_eq!(
        m.servers[0].downstream[0].value,
        AppRef::Name("platform wiki".into())
    );
    // A value is never parsed as YAML: structure cannot be injected.
    let m = parse_str("m.yaml", "account_id: ${X}\n", &|_| {
        Some("a: [b".to_owned())
    })
    .unwrap();
    assert_eq!(m.account_id.as_deref(), Some("a: [b"));
    // An empty account id means "not set here".
    let m = parse_str(
        "m.yaml",
        "account_id: ${CLOUDFLARE_ACCOUNT_ID:-}\n",
        &no_env,
    )
    .unwrap();
    assert_eq!(m.account_id, None);
}

#[test]
fn an_unset_variable_is_an_error_at_its_reference() {
    let err = parse_str(
        "m.yaml",
        "account_id: ${CLOUDFLARE_ACCOUNT_ID}\nservers:\n  - app: mcp-${STAGE}\n",
        &no_env,
    )
    .unwrap_err();
    assert_eq!(
        lines(&err),
        [
            "m.yaml:1:13: environment variable `CLOUDFLARE_ACCOUNT_ID` is not set [help: set `CLOUDFLARE_ACCOUNT_ID`, or give a default: `${CLOUDFLARE_ACCOUNT_ID:-value}`]",
            "m.yaml:3:14: environment variable `STAGE` is not set [help: set `STAGE`, or give a default: `${STAGE:-value}`]",
        ]
    );
    assert!(err.problems().iter().all(|p| p.kind() == ProblemKind::Env));
    assert_eq!(err.problems()[1].location().unwrap().snippet(), "${STAGE}");
}

#[test]
fn load_reads_the_process_environment() {
    // PATH is set in any test environment; an unlikely name is not.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.yaml");
    std::fs::write(&file, "account_id: ${PATH}\n").unwrap();
    let m = manifest::load(std::slice::from_ref(&file)).unwrap();
    assert_eq!(m.account_id, std::env::var("PATH").ok());
    std::fs::write(&file, "account_id: ${MCP_ACCESS_SURELY_UNSET_VARIABLE}\n").unwrap();
    let err = manifest::load(&[file]).unwrap_err();
    assert_has(
        &err,
        "m.yaml:1:13: environment variable `MCP_ACCESS_SURELY_UNSET_VARIABLE` is not set",
    );
}

// ---------------------------------------------------------------- validation

#[test]
fn unknown_fields_are_all_reported_with_suggestions() {
    let err = load_with_env(&[fixture("errors/typos.yaml")], &env).unwrap_err();
    let l = lines(&err);
    assert_eq!(l.len(), 3, "{l:#?}");
    assert!(
        l[0].contains("typos.yaml:4:5: unknown field `downstrem`, did you mean `downstream`?"),
        "{l:#?}"
    );
    assert!(l[0].contains("expected one of `app`, `downstream`"));
    assert!(
        l[1].contains("typos.yaml:6:12: unknown field `nmae`, did you mean `name`?"),
        "{l:#?}"
    );
    assert!(
        l[2].contains("typos.yaml:8:1: unknown field `acount_id`, did you mean `account_id`?"),
        "{l:#?}"
    );
    assert!(
        err.problems()
            .iter()
            .all(|p| p.kind() == ProblemKind::UnknownField)
    );
}

#[test]
fn a_field_with_no_close_match_gets_no_guess() {
    let err = parse_err("colour: blue\n");
    assert_eq!(
        lines(&err),
        [
            "m.yaml:1:1: unknown field `colour` [help: expected one of `version`, `owner`, `account_id`, `adopt`, `servers`]"
        ]
    );
}

#[test]
fn bad_values_are_reported_together() {
    let err = parse_err(
        "version: 2\nowner: Platform\nservers:\n  - app: { name: a, uid: b }\n  - downstream: [x]\n  - just-a-string\n  - app: [x]\n  - app: ok\n    downstream: nope\n",
    );
    let l = lines(&err);
    assert_eq!(l.len(), 7, "{l:#?}");
    assert!(
        l[0].starts_with("m.yaml:1:10: unsupported manifest version `2`"),
        "{l:#?}"
    );
    assert!(
        l[1].starts_with("m.yaml:2:8: owner `Platform` has `P`"),
        "{l:#?}"
    );
    assert!(
        l[2].starts_with(
            "m.yaml:4:10: an app reference needs exactly one of `name`, `domain`, `uid`; found 2"
        ),
        "{l:#?}"
    );
    assert!(
        l[3].starts_with("m.yaml:5:5: a server needs `app`"),
        "{l:#?}"
    );
    assert!(
        l[4].starts_with("m.yaml:6:5: a server must be a map"),
        "{l:#?}"
    );
    assert!(
        l[5].starts_with("m.yaml:7:10: expected an app reference, found a list"),
        "{l:#?}"
    );
    assert!(
        l[6].starts_with("m.yaml:9:17: `downstream` must be a list of apps, found a string"),
        "{l:#?}"
    );
    assert_has(
        &parse_err("servers: {}\n"),
        "m.yaml:1:10: `servers` must be a list, found a map",
    );
    assert_has(
        &parse_err("- a\n"),
        "m.yaml:1:1: a manifest must be a map, found a list",
    );
    assert_has(
        &parse_err("version: \"1\"\n"),
        "unsupported manifest version `1`",
    );
}

#[test]
fn broken_yaml_is_located_and_other_files_still_checked() {
    let err = load_with_env(
        &[fixture("errors/broken.yaml"), fixture("errors/typos.yaml")],
        &env,
    )
    .unwrap_err();
    let first = &err.problems()[0];
    assert_eq!(first.kind(), ProblemKind::Syntax);
    assert!(first.message().starts_with("invalid YAML: "), "{first}");
    let at = first.location().expect("syntax errors are located");
    assert!(at.file().ends_with("broken.yaml"));
    assert!(at.line() >= 3, "{at}");
    assert!(first.to_string().starts_with(&format!("{at}: ")));
    // The other file's three problems are reported too.
    assert_eq!(err.problems().len(), 4, "{:#?}", lines(&err));
    assert_has(&err, "did you mean `downstream`?");
}

#[test]
fn duplicate_keys_are_refused() {
    let err = parse_err("owner: a\nowner: b\n");
    assert_eq!(
        lines(&err),
        ["m.yaml:2:1: invalid YAML: duplicate mapping key: owner [help: fix the YAML syntax]"]
    );
    assert_eq!(err.problems()[0].kind(), ProblemKind::Syntax);
    assert_eq!(
        err.problems()[0].location().unwrap().line(),
        2,
        "{}",
        lines(&err)[0]
    );
}

#[test]
fn duplicates_and_conflicts_across_files_name_both_places() {
    let err = load_with_env(
        &[fixture("errors/dup-a.yaml"), fixture("errors/dup-b.yaml")],
        &env,
    )
    .unwrap_err();
    let l = lines(&err);
    assert_eq!(l.len(), 3, "{l:#?}");
    let a = fixture("errors/dup-a.yaml").display().to_string();
    let b = fixture("errors/dup-b.yaml").display().to_string();
    assert!(
        l[0].starts_with(&format!(
            "{b}:1:8: owner `security` differs from owner `platform` at {a}:1:8"
        )),
        "{l:#?}"
    );
    assert!(l[1].starts_with(&format!(
        "{b}:7:9: downstream \"Company wiki\" is listed twice under server {{ uid: 0f3c }}; first at {b}:5:9"
    )), "{l:#?}");
    assert!(
        l[2].starts_with(&format!(
            "{b}:8:10: server \"mcp-server-app\" is declared twice; first at {a}:3:10"
        )),
        "{l:#?}"
    );
    let dup = &err.problems()[2];
    assert_eq!(dup.kind(), ProblemKind::Conflict);
    assert_eq!(
        dup.other_location().unwrap().to_string(),
        format!("{a}:3:10")
    );
}

#[test]
fn account_ids_must_agree_across_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), "account_id: one\n").unwrap();
    std::fs::write(dir.path().join("b.yaml"), "account_id: one\n").unwrap();
    assert_eq!(
        load_with_env(&[dir.path().to_owned()], &env)
            .unwrap()
            .account_id
            .as_deref(),
        Some("one")
    );
    std::fs::write(dir.path().join("c.yml"), "account_id: two\n").unwrap();
    let err = load_with_env(&[dir.path().to_owned()], &env).unwrap_err();
    assert_has(
        &err,
        "c.yml:1:13: account_id `two` differs from account_id `one` at ",
    );
    assert_has(&err, "a.yaml:1:13");
}

// ---------------------------------------------------------------- limits

#[test]
fn yaml_bombs_are_refused() {
    use std::fmt::Write;
    // Nine levels of ten aliases each: 10^9 nodes once expanded.
    let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (prev, cur) in "abcdefgh".chars().zip("bcdefghi".chars()) {
        let refs = vec![format!("*{prev}"); 10].join(", ");
        writeln!(text, "{cur}: &{cur} [{refs}]").unwrap();
    }
    let err = parse_err(&text);
    assert_eq!(err.problems().len(), 1);
    assert_eq!(
        err.problems()[0].kind(),
        ProblemKind::Limit,
        "{}",
        lines(&err)[0]
    );
    assert_has(
        &err,
        "manifest refused: aliases expand to more than 10000 YAML events",
    );
    // A few aliases are fine.
    let m = parse_str(
        "m.yaml",
        "servers:\n  - app: a\n    downstream: &d [x, y]\n  - app: b\n    downstream: *d\n",
        &env,
    )
    .unwrap();
    assert_eq!(m.servers[1].downstream.len(), 2);
}

#[test]
fn deep_nesting_is_refused() {
    let text = format!("servers: {}{}\n", "[".repeat(200), "]".repeat(200));
    let err = parse_err(&text);
    assert_eq!(
        err.problems()[0].kind(),
        ProblemKind::Limit,
        "{}",
        lines(&err)[0]
    );
    assert_has(
        &err,
        "m.yaml:1:25: manifest refused: nesting deeper than 16 levels",
    );
}

#[test]
fn oversized_files_are_refused_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.yaml");
    std::fs::write(
        &file,
        format!("# {}\nservers: []\n", "x".repeat(manifest::MAX_FILE_BYTES)),
    )
    .unwrap();
    let err = load_with_env(&[file], &env).unwrap_err();
    assert_has(&err, "big.yaml: file is larger than the 1048576-byte limit");
    assert_eq!(err.problems()[0].kind(), ProblemKind::Limit);
    let err = parse_err(&format!("# {}\n", "x".repeat(manifest::MAX_FILE_BYTES)));
    assert_has(&err, "limit");
}

// ---------------------------------------------------------------- rendering

#[test]
fn errors_render_with_snippets_and_read_well_as_plain_text() {
    let err = load_with_env(&[fixture("errors/typos.yaml")], &env).unwrap_err();
    let plain = err.to_string();
    assert!(
        plain.starts_with("the manifest has 3 problems:\n  "),
        "{plain}"
    );
    assert!(
        plain.contains("typos.yaml:4:5: unknown field `downstrem`, did you mean `downstream`?")
    );
    let fancy = render(&err);
    assert!(fancy.contains("downstrem:"), "{fancy}");
    assert!(fancy.contains("unknown field"), "{fancy}");
    assert!(fancy.contains("typos.yaml:4:5"), "{fancy}");
    assert!(
        fancy.contains("expected one of `app`, `downstream`"),
        "{fancy}"
    );

    let one = parse_err("owner: a\nservers:\n  - app: x\n    downstrem: []\n");
    assert_eq!(
        one.to_string(),
        "m.yaml:4:5: unknown field `downstrem`, did you mean `downstream`?"
    );
    let fancy = render(&one);
    assert!(fancy.contains("m.yaml:4:5"), "{fancy}");
    assert!(fancy.contains("downstrem: []"), "{fancy}");
}

// ---------------------------------------------------------------- resolution

fn app(uid: &str, name: &str, kind: &str, domain: &str) -> Value {
    json!({"id": uid, "uid": uid, "name": name, "type": kind, "domain": domain, "policies": []})
}

fn inventory(apps: Vec<Value>) -> Inventory {
    let policies = vec![
        Policy::from_value(
            json!({"id": "p1", "name": "Employees", "decision": "allow", "include": []}),
        )
        .unwrap(),
    ];
    Inventory::new(
        apps.into_iter()
            .map(|a| App::from_value(a).unwrap())
            .collect(),
        policies,
    )
}

fn account() -> Inventory {
    let mut support = app("sup-1", "Support MCP", "saas", "support-mcp.example.com");
    support["saas_app"] = json!({"auth_type": "oidc", "client_id": "c"});
    let mut saml = app("saml-1", "HR portal", "saas", "");
    saml["saas_app"] = json!({"auth_type": "saml"});
    inventory(vec![
        app("srv-1", "mcp-server-app", "self_hosted", "mcp.example.com"),
        support,
        app("api-1", "Internal API", "self_hosted", "api.example.com"),
        app("wiki-1", "Company wiki", "self_hosted", "wiki.example.com"),
        app(
            SUPPORT_UID,
            "Ticketing",
            "self_hosted",
            "tickets.example.com",
        ),
        app("dup-1", "Staging", "self_hosted", "staging-a.example.com"),
        app("dup-2", "Staging", "self_hosted", "staging-b.example.com"),
        saml,
        app("ssh-1", "Bastion", "ssh", "ssh.example.com"),
        app("mcp-1", "docs-mcp", "mcp", ""),
        app("portal-1", "AI portal", "mcp_portal", "portal.example.com"),
    ])
}

fn resolve_text(text: &str) -> Result<Desired, ManifestError> {
    let m = parse_str("m.yaml", text, &env).unwrap();
    resolve(&m, "platform", &account())
}

#[test]
fn resolution_gives_sorted_unique_servers_and_downstreams() {
    let m = load_with_env(&[fixture("multi")], &env).unwrap();
    let desired = resolve(&m, "platform", &account()).unwrap();
    assert_eq!(desired.owner, "platform");
    let uids: Vec<_> = desired.servers.iter().map(|s| s.uid.as_str()).collect();
    assert_eq!(uids, ["srv-1", "sup-1"]);
    let support = &desired.servers[1];
    assert_eq!(support.kind, ServerKind::OidcSaas);
    assert_eq!(support.kind.forward_header(), "Authorization: Bearer");
    assert_eq!(support.name, "Support MCP");
    let srv = &desired.servers[0];
    assert_eq!(srv.kind, ServerKind::SelfHosted);
    assert_eq!(srv.kind.forward_header(), "Cf-Access-Token");
    let down: Vec<_> = srv
        .downstream
        .iter()
        .map(|d| (d.uid.as_str(), d.name.as_str(), d.domain.as_deref()))
        .collect();
    assert_eq!(
        down,
        [
            ("api-1", "Internal API", Some("api.example.com")),
            ("wiki-1", "Company wiki", Some("wiki.example.com"))
        ]
    );
    // Servers may share downstream apps.
    assert_eq!(
        support
            .downstream
            .iter()
            .map(|d| d.uid.as_str())
            .collect::<Vec<_>>(),
        [SUPPORT_UID, "api-1"]
    );
}

#[test]
fn a_server_listed_as_its_own_downstream_is_refused() {
    let m = load_with_env(&[fixture("multi/20-support.yml")], &env).unwrap();
    // An account where the support server's domain belongs to the uid listed downstream.
    let apps = vec![
        app(
            SUPPORT_UID,
            "Support MCP",
            "self_hosted",
            "support-mcp.example.com",
        ),
        app("api-1", "Internal API", "self_hosted", "api.example.com"),
    ];
    let err = resolve(&m, "platform", &inventory(apps)).unwrap_err();
    assert_eq!(err.problems().len(), 1, "{:#?}", lines(&err));
    assert_has(
        &err,
        "20-support.yml:6:9: server { domain: support-mcp.example.com } lists itself as a downstream app",
    );
}

#[test]
fn unknown_apps_get_suggestions() {
    let err = resolve_text(
        "servers:\n  - app: mcp-server-ap\n    downstream:\n      - internal api\n      - { domain: wiki.example.co }\n      - { uid: api-2 }\n      - Totally different\n",
    )
    .unwrap_err();
    assert_eq!(
        lines(&err),
        [
            "m.yaml:2:10: no app \"mcp-server-ap\" in the account, did you mean `mcp-server-app`? [help: check the app's name, domain or uid in Zero Trust > Access > Applications]",
            "m.yaml:4:9: no app \"internal api\" in the account, did you mean `Internal API`? [help: check the app's name, domain or uid in Zero Trust > Access > Applications]",
            "m.yaml:5:9: no app { domain: wiki.example.co } in the account, did you mean `{ domain: wiki.example.com }`? [help: check the app's name, domain or uid in Zero Trust > Access > Applications]",
            "m.yaml:6:9: no app { uid: api-2 } in the account, did you mean `{ uid: api-1 }`? [help: check the app's name, domain or uid in Zero Trust > Access > Applications]",
            "m.yaml:7:9: no app \"Totally different\" in the account [help: check the app's name, domain or uid in Zero Trust > Access > Applications]",
        ]
    );
    assert!(
        err.problems()
            .iter()
            .all(|p| p.kind() == ProblemKind::NotFound)
    );
}

#[test]
fn ambiguous_names_and_domains_list_the_candidates() {
    let mut apps = vec![
        app("srv-1", "mcp", "self_hosted", "mcp.example.com"),
        app("dup-1", "Staging", "self_hosted", "staging.example.com"),
        app("dup-2", "Staging", "self_hosted", "other.example.com"),
    ];
    apps[2]["self_hosted_domains"] = json!(["other.example.com", "staging.example.com"]);
    let m = parse_str(
        "m.yaml",
        "servers:\n  - app: mcp\n    downstream: [Staging, { domain: Staging.example.com }]\n",
        &env,
    )
    .unwrap();
    let err = resolve(&m, "platform", &inventory(apps)).unwrap_err();
    assert_eq!(
        lines(&err),
        [
            "m.yaml:3:18: \"Staging\" matches 2 apps: `dup-1` (self_hosted, staging.example.com), `dup-2` (self_hosted, other.example.com) [help: name one app by uid, e.g. `{ uid: dup-1 }`]",
            "m.yaml:3:27: { domain: staging.example.com } matches 2 apps: `dup-1` (self_hosted, staging.example.com), `dup-2` (self_hosted, other.example.com) [help: name one app by uid, e.g. `{ uid: dup-1 }`]",
        ]
    );
    assert!(
        err.problems()
            .iter()
            .all(|p| p.kind() == ProblemKind::Ambiguous)
    );
}

#[test]
fn servers_must_be_able_to_issue_tokens() {
    let err = resolve_text("servers:\n  - app: HR portal\n  - app: Bastion\n").unwrap_err();
    let l = lines(&err);
    assert!(l[0].starts_with("m.yaml:2:10: server \"HR portal\" is a SaaS app with `saml` authentication; a SAML app cannot issue Linked App Tokens"), "{l:#?}");
    assert!(l[1].starts_with("m.yaml:3:10: server \"Bastion\" is a `ssh` app; an MCP server must be a `self_hosted` app, an `mcp` app or a `saas` app with OIDC"), "{l:#?}");
    assert!(
        err.problems()
            .iter()
            .all(|p| p.kind() == ProblemKind::WrongType)
    );
}

#[test]
fn an_mcp_app_is_a_server_that_forwards_cf_access_token_and_a_portal_is_not() {
    let desired =
        resolve_text("servers:\n  - app: docs-mcp\n    downstream: [Internal API]\n").unwrap();
    let server = &desired.servers[0];
    assert_eq!(server.kind, ServerKind::Mcp);
    assert_eq!(server.kind.forward_header(), "Cf-Access-Token");
    assert_eq!(server.kind.app_type(), "mcp");

    let err = resolve_text("servers:\n  - app: AI portal\n").unwrap_err();
    assert_eq!(
        lines(&err),
        [
            "m.yaml:2:10: server \"AI portal\" is an `mcp_portal` app (an MCP server portal); a portal fronts MCP servers, it is not the app whose tokens a downstream app accepts [help: name the `mcp` (or self-hosted) app of the MCP server behind the portal]"
        ]
    );
}

#[test]
fn mcp_and_mcp_portal_apps_are_refused_as_downstreams_naming_the_type() {
    let err =
        resolve_text("servers:\n  - app: mcp-server-app\n    downstream: [docs-mcp, AI portal]\n")
            .unwrap_err();
    let l = lines(&err);
    assert!(l[0].starts_with("m.yaml:3:18: downstream \"docs-mcp\" is an `mcp` app (an MCP server app); a Linked App Token policy can only be attached to `self_hosted` apps [help: an `mcp` app is an MCP server itself"), "{l:#?}");
    assert!(l[1].starts_with("m.yaml:3:28: downstream \"AI portal\" is an `mcp_portal` app (an MCP server portal); a Linked App Token policy can only be attached to `self_hosted` apps"), "{l:#?}");
    assert!(
        err.problems()
            .iter()
            .all(|p| p.kind() == ProblemKind::WrongType)
    );
}

#[test]
fn a_saas_app_without_auth_type_is_saml() {
    let mut a = app("s", "Old SaaS", "saas", "");
    a["saas_app"] = json!({});
    let m = parse_str("m.yaml", "servers:\n  - app: Old SaaS\n", &env).unwrap();
    let err = resolve(&m, "platform", &inventory(vec![a])).unwrap_err();
    assert_has(&err, "a SAML app cannot issue Linked App Tokens");
}

#[test]
fn downstream_apps_must_be_self_hosted_and_not_the_server() {
    let err = resolve_text(
        "servers:\n  - app: mcp-server-app\n    downstream: [Bastion, { domain: support-mcp.example.com }, { uid: srv-1 }, Internal API]\n",
    )
    .unwrap_err();
    let l = lines(&err);
    assert_eq!(l.len(), 3, "{l:#?}");
    assert!(l[0].starts_with("m.yaml:3:18: downstream \"Bastion\" is a `ssh` app; a Linked App Token rule can only be attached to `self_hosted` apps"), "{l:#?}");
    assert!(
        l[1].starts_with(
            "m.yaml:3:27: downstream { domain: support-mcp.example.com } is a `saas` app"
        ),
        "{l:#?}"
    );
    assert!(
        l[2].starts_with("m.yaml:3:64: server \"mcp-server-app\" lists itself as a downstream app"),
        "{l:#?}"
    );
}

#[test]
fn references_to_the_same_app_by_different_means_are_duplicates() {
    let err = resolve_text(
        "servers:\n  - app: mcp-server-app\n    downstream: [Internal API, { domain: api.example.com }]\n  - app: { uid: srv-1 }\n",
    )
    .unwrap_err();
    assert_eq!(
        lines(&err),
        [
            "m.yaml:3:32: downstream { domain: api.example.com } is app `Internal API` (api-1), already listed at m.yaml:3:18 under server \"mcp-server-app\" [help: remove one of them]",
            "m.yaml:4:10: server { uid: srv-1 } is app `mcp-server-app` (srv-1), already declared at m.yaml:2:10 [help: declare each MCP server once, with all its downstream apps]",
        ]
    );
    assert!(
        err.problems()
            .iter()
            .all(|p| p.kind() == ProblemKind::Conflict)
    );
}

#[test]
fn the_effective_owner_is_used_and_must_be_valid() {
    let m = parse_str("m.yaml", "owner: platform\n", &env).unwrap();
    assert_eq!(resolve(&m, "platform", &account()).unwrap().servers, []);
    // `--owner` overrides the manifest's owner.
    assert_eq!(
        resolve(&m, "security", &account()).unwrap().owner,
        "security"
    );
    let m = parse_str("m.yaml", "servers: []\n", &env).unwrap();
    assert_eq!(resolve(&m, "anyone", &account()).unwrap().owner, "anyone");
    assert_has(
        &resolve(&m, "Bad Owner", &account()).unwrap_err(),
        "owner `Bad Owner` has `B`",
    );
}

#[test]
fn resolution_problems_render_with_snippets() {
    let err = resolve_text(
        "servers:\n  - app: mcp-server-app\n    downstream: [internal api, Bastion]\n",
    )
    .unwrap_err();
    let fancy = render(&err);
    assert!(
        fancy.contains("downstream: [internal api, Bastion]"),
        "{fancy}"
    );
    assert!(fancy.contains("did you mean `Internal API`?"), "{fancy}");
    assert!(fancy.contains("not self-hosted"), "{fancy}");
}
