//! Properties of onboarding an existing account, over random accounts full of grants
//! made by hand (plain ones, ones with exclude or require rules, several servers,
//! bypass, other rules, another owner's, our own managed ones):
//!
//! - an adopting reconcile never lowers effective access: every write of the apply is
//!   replayed, in the order it took effect in the simulator (the client runs writes
//!   concurrently, with jitter), and who can reach what is computed after each one. It
//!   only grows, except for links of our own policies the manifest does not declare;
//! - policies that cannot be adopted are never written, nor linked or unlinked;
//! - `import` round-trips: its manifest loads and resolves, `reconcile --adopt` on it
//!   changes who can reach what not at all (write by write), and importing again
//!   declares the same links.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

use mcp_access::cloudflare::{Client, ClientConfig};
use mcp_access::inventory;
use mcp_access::manifest::{self, AppRef};
use mcp_access::reconcile::{self, ReconcileOptions};
use mcp_access::sim::{Faults, Seed, SimConfig, Simulator, WriteRecord};
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const OWNER: &str = "platform";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    SelfHosted,
    Oidc,
    Saml,
    Ssh,
}

/// How a grant was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Exactly what Cloudflare's guide makes: adoptable when its links fit.
    Plain,
    Exclude,
    Require,
    TwoServers,
    Bypass,
    OtherRules,
    OtherOwner,
    /// Our own managed policy (plain, with our marker).
    Ours,
}

#[derive(Debug, Clone)]
struct Grant {
    server: usize,
    second: usize,
    shape: Shape,
    apps: Vec<usize>,
    age: u8,
}

#[derive(Debug, Clone)]
struct Account {
    kinds: Vec<Kind>,
    names: Vec<String>,
    grants: Vec<Grant>,
}

fn app_id(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

fn policy_id(i: usize) -> String {
    format!("22222222-0000-4000-8000-{i:012}")
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        6 => Just(Kind::SelfHosted),
        2 => Just(Kind::Oidc),
        1 => Just(Kind::Saml),
        1 => Just(Kind::Ssh),
    ]
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        8 => Just(Shape::Plain),
        1 => Just(Shape::Exclude),
        1 => Just(Shape::Require),
        1 => Just(Shape::TwoServers),
        1 => Just(Shape::Bypass),
        1 => Just(Shape::OtherRules),
        1 => Just(Shape::OtherOwner),
        2 => Just(Shape::Ours),
    ]
}

/// Names from a small pool, so some repeat (import must use uids) and some need quotes.
fn name() -> impl Strategy<Value = String> {
    let pool = prop::sample::select(vec![
        "wiki",
        "api",
        "Status page",
        "mcp",
        "yes",
        "a: b",
        "x #y",
        "${HOME}",
        "Café",
        " pad ",
    ]);
    (pool, any::<bool>(), 0..1000u32).prop_map(|(base, unique, n)| {
        if unique {
            format!("{base} {n}")
        } else {
            base.to_owned()
        }
    })
}

fn account() -> impl Strategy<Value = Account> {
    (prop::collection::vec((kind(), name()), 3..9))
        .prop_flat_map(|apps| {
            let n = apps.len();
            // Most grants name one of the first few apps, so servers with several
            // hand-made grants (merged on adoption) are common.
            let server = prop_oneof![5 => 0..n.min(2), 1 => 0..n];
            let grant = (
                server,
                0..n,
                shape(),
                prop::collection::vec(0..n, 0..4),
                0..60u8,
            );
            (Just(apps), prop::collection::vec(grant, 1..10))
        })
        .prop_map(|(apps, grants)| {
            let (kinds, names): (Vec<Kind>, Vec<String>) = apps.into_iter().unzip();
            let eligible = |i: usize| matches!(kinds[i], Kind::SelfHosted | Kind::Oidc);
            let grants = grants
                .into_iter()
                .map(|(server, second, shape, apps, age)| {
                    // Our own policies only serve apps that can be servers, and never
                    // the server itself (mcp-access would never have made those).
                    let shape = if shape == Shape::Ours && !eligible(server) {
                        Shape::Plain
                    } else {
                        shape
                    };
                    let apps: BTreeSet<usize> = apps
                        .into_iter()
                        .filter(|a| kinds[*a] == Kind::SelfHosted)
                        .filter(|a| shape != Shape::Ours || *a != server)
                        .collect();
                    Grant {
                        server,
                        second,
                        shape,
                        apps: apps.into_iter().collect(),
                        age,
                    }
                })
                .collect();
            Account {
                kinds,
                names,
                grants,
            }
        })
}

/// The manifest: each app that can be a server is one with some probability, with
/// some downstream apps; `cover` also lists the apps its grants are attached to, so
/// that many grants are adoptable.
fn servers(account: &Account) -> impl Strategy<Value = Vec<(usize, Vec<usize>)>> + use<> {
    let n = account.kinds.len();
    let account = account.clone();
    let choice = (
        prop::bool::weighted(0.75),
        prop::collection::vec(0..n, 0..3),
        prop::bool::weighted(0.75),
    );
    prop::collection::vec(choice, n).prop_map(move |choices| {
        choices
            .into_iter()
            .enumerate()
            .filter(|(s, (declared, _, _))| {
                *declared && matches!(account.kinds[*s], Kind::SelfHosted | Kind::Oidc)
            })
            .map(|(s, (_, down, cover))| {
                let mut down: BTreeSet<usize> = down.into_iter().collect();
                if cover {
                    for g in account.grants.iter().filter(|g| g.server == s) {
                        down.extend(g.apps.iter().copied());
                    }
                }
                let down = down
                    .into_iter()
                    .filter(|d| *d != s && account.kinds[*d] == Kind::SelfHosted)
                    .collect();
                (s, down)
            })
            .collect()
    })
}

fn lat(i: usize) -> Value {
    json!({"linked_app_token": {"app_uid": app_id(i)}})
}

fn seed(account: &Account) -> Seed {
    let mut policies: Vec<Value> = vec![json!({
        "id": policy_id(999), "name": "Allow employees", "decision": "allow",
        "include": [{"email_domain": {"domain": "example.com"}}]
    })];
    let mut links: Vec<Vec<String>> = vec![Vec::new(); account.kinds.len()];
    for (i, g) in account.grants.iter().enumerate() {
        let id = policy_id(i);
        let mut p = json!({
            "id": id,
            "name": "Allow requests from MCP server",
            "decision": "non_identity",
            "include": [lat(g.server)],
            "session_duration": "30m",
            "created_at": format!("2024-01-01T00:00:{:02}Z", g.age),
        });
        match g.shape {
            Shape::Plain => {}
            Shape::Exclude => p["exclude"] = json!([{"ip": {"ip": "10.0.0.0/8"}}]),
            Shape::Require => p["require"] = json!([{"email_domain": {"domain": "example.com"}}]),
            Shape::TwoServers => p["include"] = json!([lat(g.server), lat(g.second)]),
            Shape::Bypass => p["decision"] = json!("bypass"),
            Shape::OtherRules => p["include"] = json!([lat(g.server), {"everyone": {}}]),
            Shape::OtherOwner => p["name"] = json!("[mcp-access:someone-else] MCP server x"),
            Shape::Ours => p["name"] = json!(format!("[mcp-access:{OWNER}] MCP server x")),
        }
        policies.push(p);
        for a in &g.apps {
            links[*a].push(id.clone());
        }
    }
    let apps = account
        .kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            let mut app = json!({
                "id": app_id(i),
                "name": account.names[i],
                "domain": format!("app-{i}.example.com"),
                "future_field": {"i": i},
            });
            match kind {
                Kind::SelfHosted => app["type"] = json!("self_hosted"),
                Kind::Oidc | Kind::Saml => {
                    app["type"] = json!("saas");
                    let auth = if *kind == Kind::Oidc { "oidc" } else { "saml" };
                    app["saas_app"] = json!({"auth_type": auth});
                }
                Kind::Ssh => app["type"] = json!("ssh"),
            }
            let mut list: Vec<Value> = Vec::new();
            if i % 3 == 0 {
                list.push(json!(policy_id(999)));
            }
            list.extend(links[i].iter().map(|id| json!(id)));
            let list: Vec<Value> = list
                .into_iter()
                .enumerate()
                .map(|(n, id)| json!({"id": id, "precedence": n + 1}))
                .collect();
            app["policies"] = Value::Array(list);
            app
        })
        .collect();
    Seed { apps, policies }
}

fn manifest_yaml(servers: &[(usize, Vec<usize>)]) -> String {
    let mut out = format!("owner: {OWNER}\nadopt: true\nservers:\n");
    if servers.is_empty() {
        return format!("owner: {OWNER}\nadopt: true\nservers: []\n");
    }
    for (s, down) in servers {
        let _ = write!(out, "  - app: {{ uid: {} }}\n    downstream: [", app_id(*s));
        let refs: Vec<String> = down
            .iter()
            .map(|d| format!("{{ uid: {} }}", app_id(*d)))
            .collect();
        out.push_str(&refs.join(", "));
        out.push_str("]\n");
    }
    out
}

/// The account as a replay model: each policy's decided JSON and each app's links.
#[derive(Debug, Clone, PartialEq)]
struct Model {
    policies: BTreeMap<String, Value>,
    links: BTreeMap<String, Vec<String>>,
}

impl Model {
    fn of(sim: &Simulator) -> Self {
        let policies = sim
            .policies()
            .into_iter()
            .map(|p| {
                let id = p["id"].as_str().unwrap().to_owned();
                (id, decided(&p))
            })
            .collect();
        let links = sim
            .apps()
            .into_iter()
            .map(|a| {
                let ids = a["policies"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["id"].as_str().unwrap().to_owned())
                    .collect();
                (a["id"].as_str().unwrap().to_owned(), ids)
            })
            .collect();
        Model { policies, links }
    }

    /// One write, as the simulator took it.
    fn replay(&mut self, w: &WriteRecord) {
        let id = w.path.rsplit('/').next().unwrap().to_owned();
        match (w.method.as_str(), w.path.contains("/access/apps")) {
            ("PUT", true) => {
                let ids = w.body["policies"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l["id"].as_str().unwrap().to_owned())
                    .collect();
                self.links.insert(id, ids);
            }
            ("PUT", false) => {
                self.policies.insert(id, decided(&w.body));
            }
            ("POST", false) => {
                let id = w.result["id"].as_str().unwrap().to_owned();
                self.policies.insert(id, decided(&w.result));
            }
            ("DELETE", false) => {
                assert!(
                    self.links.values().all(|l| !l.contains(&id)),
                    "deleted while linked: {id}"
                );
                self.policies.remove(&id);
            }
            other => panic!("unexpected write {other:?}: {w:?}"),
        }
    }

    /// Who can reach what.
    fn grants(&self) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (app, ids) in &self.links {
            for id in ids {
                let p = &self.policies[id];
                if !matches!(p["decision"].as_str(), Some("non_identity" | "bypass")) {
                    continue;
                }
                for rule in p["include"].as_array().into_iter().flatten() {
                    if let Some(s) = rule["linked_app_token"]["app_uid"].as_str() {
                        out.insert((s.to_owned(), app.clone()));
                    }
                }
            }
        }
        out
    }

    /// Every (app, policy) link of these policies.
    fn links_of(&self, ids: &BTreeSet<String>) -> BTreeSet<(String, String)> {
        self.links
            .iter()
            .flat_map(|(app, l)| l.iter().map(move |id| (app.clone(), id.clone())))
            .filter(|(_, id)| ids.contains(id))
            .collect()
    }
}

fn decided(p: &Value) -> Value {
    let list = |k: &str| {
        p.get(k)
            .filter(|v| !v.is_null())
            .cloned()
            .unwrap_or(json!([]))
    };
    json!({"name": p["name"], "decision": p["decision"], "include": list("include"),
           "exclude": list("exclude"), "require": list("require")})
}

fn client(sim: &Simulator) -> Client {
    let mut cc = ClientConfig::new(
        sim.base_url(),
        sim.account_id(),
        SecretString::from(sim.token().to_owned()),
    );
    cc.request_timeout = Duration::from_secs(5);
    Client::new(cc).unwrap()
}

async fn start(account: &Account, jitter_seed: u64) -> Result<Simulator, TestCaseError> {
    let config = SimConfig {
        record_writes: true,
        faults: Faults {
            // Concurrent writes finish in a random order.
            jitter: Duration::from_millis(4),
            seed: Some(jitter_seed),
            ..Faults::default()
        },
        ..SimConfig::default()
    };
    Simulator::start(config, seed(account))
        .await
        .map_err(|e| TestCaseError::fail(format!("seed rejected: {e}")))
}

/// How often the cases exercised what the properties are about.
#[derive(Debug, Default)]
struct Coverage {
    cases: AtomicUsize,
    adopted: AtomicUsize,
    moved: AtomicUsize,
    not_adopted: AtomicUsize,
}

impl Coverage {
    fn count(&self, plan: &mcp_access::plan::Plan) {
        self.cases.fetch_add(1, Ordering::Relaxed);
        if !plan.adoptions.is_empty() {
            self.adopted.fetch_add(1, Ordering::Relaxed);
        }
        if plan
            .app_changes
            .iter()
            .flat_map(|c| &c.detach)
            .any(|d| d.moved_to.is_some())
        {
            self.moved.fetch_add(1, Ordering::Relaxed);
        }
        if !plan.not_adopted.is_empty() {
            self.not_adopted.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A property that held only because nothing happened proves nothing: a good share
    /// of the cases adopt, some move links, some leave grants alone. (The bounds sit far
    /// below what the generator gives, about half, a fifth and two thirds, so a random
    /// run does not miss them by chance.)
    fn assert_meaningful(&self, what: &str) {
        let get = |c: &AtomicUsize| c.load(Ordering::Relaxed);
        let cases = get(&self.cases);
        eprintln!("{what}: {self:?}");
        assert!(
            get(&self.adopted) * 4 >= cases,
            "{what}: too few adoptions: {self:?}"
        );
        assert!(
            get(&self.moved) * 32 >= cases,
            "{what}: too few moved links: {self:?}"
        );
        assert!(
            get(&self.not_adopted) * 8 >= cases,
            "{what}: too few grants left alone: {self:?}"
        );
    }
}

/// Reconciles with `--adopt` and replays every write: access never below `keep`, the
/// links of `untouchable` policies never change, and the replay ends where the
/// simulator is. Returns the grants at the end.
async fn adopt_and_replay(
    sim: &Simulator,
    yaml: &str,
    keep: &BTreeSet<(String, String)>,
    untouchable: &BTreeSet<String>,
    coverage: &Coverage,
) -> Result<BTreeSet<(String, String)>, TestCaseError> {
    let mut model = Model::of(sim);
    let untouched_links = model.links_of(untouchable);
    let manifest = manifest::parse_str("prop.yaml", yaml, &|_| None)
        .map_err(|e| TestCaseError::fail(format!("{e:?}\n{yaml}")))?;
    prop_assert!(manifest.adopt);
    let options = ReconcileOptions {
        owner: OWNER.into(),
        dry_run: false,
        max_rounds: 3,
        plan: mcp_access::plan::PlanOptions::default(),
    };
    let client = client(sim);
    let outcome = reconcile::reconcile(&client, &manifest, &options, &CancellationToken::new())
        .await
        .map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
    prop_assert!(outcome.converged());
    prop_assert!(
        outcome.rounds.len() <= 1,
        "took {} rounds",
        outcome.rounds.len()
    );
    coverage.count(&outcome.first_plan);

    for (n, write) in sim.write_log().iter().enumerate() {
        model.replay(write);
        let now = model.grants();
        let lost: Vec<_> = keep.difference(&now).collect();
        prop_assert!(
            lost.is_empty(),
            "access lost after write {n} {write:?}: {lost:?}\n{yaml}"
        );
        prop_assert_eq!(
            &model.links_of(untouchable),
            &untouched_links,
            "after write {}",
            n
        );
    }
    for w in sim.write_log() {
        let id = w.path.rsplit('/').next().unwrap();
        prop_assert!(
            !(w.path.contains("/access/policies/") && untouchable.contains(id)),
            "wrote a policy it must not: {w:?}"
        );
    }
    prop_assert_eq!(
        &model,
        &Model::of(sim),
        "the replay ends where the simulator is"
    );
    let (_, again) = reconcile::plan_once(&client, &manifest, OWNER)
        .await
        .unwrap();
    prop_assert!(again.is_empty(), "next plan not empty: {again:#?}");
    Ok(model.grants())
}

fn pair(s: usize, a: usize) -> (String, String) {
    (app_id(s), app_id(a))
}

/// Grants at the start by policies that are not ours (they are never lost).
fn not_ours_grants(account: &Account) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for g in account.grants.iter().filter(|g| g.shape != Shape::Ours) {
        for a in &g.apps {
            out.insert(pair(g.server, *a));
            if g.shape == Shape::TwoServers {
                out.insert(pair(g.second, *a));
            }
        }
    }
    out
}

async fn adopting_reconcile_never_lowers_access(
    account: Account,
    servers: Vec<(usize, Vec<usize>)>,
    jitter_seed: u64,
    coverage: &Coverage,
) -> Result<(), TestCaseError> {
    let sim = start(&account, jitter_seed).await?;
    let yaml = manifest_yaml(&servers);
    let declared: BTreeMap<usize, BTreeSet<usize>> = servers
        .iter()
        .map(|(s, d)| (*s, d.iter().copied().collect()))
        .collect();
    let wanted: BTreeSet<(String, String)> = servers
        .iter()
        .flat_map(|(s, d)| d.iter().map(move |a| pair(*s, *a)))
        .collect();
    // Adoptable, by the rule, worked out here independently of the code.
    let adoptable = |g: &Grant| {
        g.shape == Shape::Plain
            && declared
                .get(&g.server)
                .is_some_and(|d| g.apps.iter().all(|a| d.contains(a)))
    };
    let untouchable: BTreeSet<String> = account
        .grants
        .iter()
        .enumerate()
        .filter(|(_, g)| g.shape != Shape::Ours && !adoptable(g))
        .map(|(i, _)| policy_id(i))
        .chain([policy_id(999)])
        .collect();
    let before = Model::of(&sim).grants();
    let unmanaged = not_ours_grants(&account);
    let keep: BTreeSet<_> = before
        .intersection(&wanted)
        .cloned()
        .chain(unmanaged.iter().cloned())
        .collect();
    let untouched_before: Vec<Value> = sim
        .policies()
        .into_iter()
        .filter(|p| untouchable.contains(p["id"].as_str().unwrap()))
        .collect();

    let after = adopt_and_replay(&sim, &yaml, &keep, &untouchable, coverage).await?;
    // The manifest's links, plus what others grant; nothing else.
    prop_assert!(after.is_superset(&wanted), "{yaml}");
    let allowed: BTreeSet<_> = wanted.union(&unmanaged).cloned().collect();
    prop_assert!(
        after.is_subset(&allowed),
        "new access: {:?}",
        after.difference(&allowed).collect::<Vec<_>>()
    );
    let untouched_after: Vec<Value> = sim
        .policies()
        .into_iter()
        .filter(|p| untouchable.contains(p["id"].as_str().unwrap()))
        .collect();
    prop_assert_eq!(untouched_after, untouched_before);
    // Every adoptable grant was taken over: renamed, or merged and deleted.
    for (i, _) in account
        .grants
        .iter()
        .enumerate()
        .filter(|(_, g)| adoptable(g))
    {
        if let Some(p) = sim.policy(&policy_id(i)) {
            prop_assert!(
                p["name"]
                    .as_str()
                    .unwrap()
                    .starts_with("[mcp-access:platform] "),
                "not adopted: {p}"
            );
        }
    }
    sim.shutdown().await;
    Ok(())
}

/// The servers and downstream apps a manifest declares.
fn declarations(yaml: &str) -> Vec<(AppRef, Vec<AppRef>)> {
    let m = manifest::parse_str("i.yaml", yaml, &|_| None).unwrap();
    m.servers
        .iter()
        .map(|s| {
            (
                s.app.value.clone(),
                s.downstream.iter().map(|d| d.value.clone()).collect(),
            )
        })
        .collect()
}

async fn import_round_trips(
    account: Account,
    jitter_seed: u64,
    coverage: &Coverage,
) -> Result<(), TestCaseError> {
    let sim = start(&account, jitter_seed).await?;
    let client = client(&sim);
    let inventory = inventory::fetch(&client).await.unwrap();
    let imported = mcp_access::import::import(&inventory, OWNER, Some(sim.account_id()));
    let yaml = manifest::write::render(&imported.document);
    let m = manifest::parse_str("imported.yaml", &yaml, &|_| None)
        .map_err(|e| TestCaseError::fail(format!("{e:?}\n{yaml}")))?;
    let desired = manifest::resolve(&m, OWNER, &inventory)
        .map_err(|e| TestCaseError::fail(format!("{e:?}\n{yaml}")))?;

    // It declares exactly the plain grants in effect: of an app that can be a server,
    // by a plain policy not another owner's, to a self-hosted app other than itself.
    let eligible = |i: usize| matches!(account.kinds[i], Kind::SelfHosted | Kind::Oidc);
    let plain: BTreeSet<(String, String)> = account
        .grants
        .iter()
        .filter(|g| matches!(g.shape, Shape::Plain | Shape::Ours) && eligible(g.server))
        .flat_map(|g| {
            g.apps
                .iter()
                .filter(move |a| **a != g.server)
                .map(move |a| pair(g.server, *a))
        })
        .collect();
    let declared: BTreeSet<(String, String)> = desired
        .servers
        .iter()
        .flat_map(|s| {
            s.downstream
                .iter()
                .map(move |d| (s.uid.clone(), d.uid.clone()))
        })
        .collect();
    prop_assert_eq!(&declared, &plain, "{}", yaml);

    // `reconcile --adopt` on it: nobody gains or loses access, write by write.
    let before = Model::of(&sim).grants();
    let with_adopt = yaml.replacen("servers:", "adopt: true\nservers:", 1);
    let after = adopt_and_replay(&sim, &with_adopt, &before, &BTreeSet::new(), coverage).await?;
    prop_assert_eq!(after, before);

    // And importing again declares the same.
    let inventory = inventory::fetch(&client).await.unwrap();
    let again = manifest::write::render(
        &mcp_access::import::import(&inventory, OWNER, Some(sim.account_id())).document,
    );
    prop_assert_eq!(declarations(&again), declarations(&yaml));
    sim.shutdown().await;
    Ok(())
}

fn run(
    test: impl std::future::Future<Output = Result<(), TestCaseError>>,
) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), test)
            .await
            .map_err(|_| TestCaseError::fail("timed out"))?
    })
}

const CASES: u32 = 64;

#[test]
fn an_adopting_reconcile_never_lowers_access() {
    let coverage = Coverage::default();
    let strategy = (
        account().prop_flat_map(|a| {
            let s = servers(&a);
            (Just(a), s)
        }),
        any::<u64>(),
    );
    let mut runner = TestRunner::new(ProptestConfig::with_cases(CASES));
    let result = runner.run(&strategy, |((account, servers), jitter_seed)| {
        run(adopting_reconcile_never_lowers_access(
            account,
            servers,
            jitter_seed,
            &coverage,
        ))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    coverage.assert_meaningful("adopting reconcile");
}

#[test]
fn import_round_trips_on_random_accounts() {
    let coverage = Coverage::default();
    let mut runner = TestRunner::new(ProptestConfig::with_cases(CASES));
    let result = runner.run(&(account(), any::<u64>()), |(account, jitter_seed)| {
        run(import_round_trips(account, jitter_seed, &coverage))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let get = |c: &AtomicUsize| c.load(Ordering::Relaxed);
    eprintln!("import round trip: {coverage:?}");
    assert!(
        get(&coverage.adopted) * 4 >= get(&coverage.cases),
        "{coverage:?}"
    );
    assert!(
        get(&coverage.moved) * 32 >= get(&coverage.cases),
        "{coverage:?}"
    );
}
