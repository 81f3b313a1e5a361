//! The alert rules (`manifests/prometheus-rules.yaml`) and the Grafana dashboard
//! (`manifests/grafana-dashboard.json`) against what the controller really exposes.
//!
//! A real controller runs against the simulator through scenarios (an API outage, an
//! invalid manifest, drift made by hand on most cycles or on few, a spent rate limit),
//! one reconcile per virtual minute, and its `/metrics` page is scraped after each.
//! Those scrapes become the input series of a `promtool test rules` file, with the
//! alerts each scenario must (and must not) raise. A renamed metric or label leaves a
//! rule without data and the test fails; so does a dashboard query naming a metric or
//! a label the controller does not expose.
//!
//! `promtool` comes from Debian's `prometheus` package (`.ci/run` installs it). Without
//! it the promtool run is skipped with a message, unless `MCP_ACCESS_REQUIRE_PROMTOOL`
//! is set (CI sets it), and every other check still runs.

mod common;
#[path = "common/controller.rs"]
mod harness;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::{DEMO, Receiver, api, options, write_manifest};
use mcp_access::controller::Controller;
use mcp_access::notify::{Format, NotifySettings, Target};
use mcp_access::sim::{Faults, RateLimit, Seed, SimConfig, Simulator};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const RULES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/manifests/prometheus-rules.yaml"
);
const DASHBOARD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/manifests/grafana-dashboard.json"
);

/// What Prometheus adds to every series it scrapes from the pod.
const TARGET_LABELS: &[(&str, &str)] = &[
    ("instance", "10.0.0.7:9090"),
    ("job", "mcp-access"),
    ("namespace", "mcp-access"),
    ("pod", "mcp-access-6d5f7c9b8-x2x9z"),
];

/// One scrape per virtual minute of a scenario.
struct Timeline {
    name: &'static str,
    scrapes: Vec<String>,
    /// Minute -> alerts that must be firing then (every rule not listed must not be).
    expect: Vec<(u32, &'static [&'static str])>,
}

/// What happens before a cycle: the minute, the simulator, the manifest path.
type Step<'a> = &'a mut dyn FnMut(usize, &Simulator, &Path);

/// Runs `minutes` reconciles of a controller with a 1-minute interval against the demo
/// account, `before` acting before each, and scrapes `/metrics` after each.
async fn scrapes(minutes: usize, notify: Option<&Receiver>, before: Step<'_>) -> Vec<String> {
    let sim = Simulator::start(SimConfig::default(), Seed::demo())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.yaml");
    write_manifest(&path, DEMO);
    let mut opts = options(path.clone());
    // The interval gauge the rules compare with: one reconcile per scrape, as if the
    // controller ran on its schedule (it runs faster here: the test does not wait).
    opts.interval = Duration::from_secs(60);
    opts.api_retry_deadline = Duration::from_millis(100);
    if let Some(receiver) = notify {
        opts.notify = NotifySettings {
            targets: vec![Target::parse(&receiver.url("/hook"), Format::Json).unwrap()],
            after: 1,
            ..NotifySettings::default()
        };
    }
    // The virtual minutes pass in milliseconds: the client's own pacing (1000/300s
    // after a burst of 200) would stretch the long scenarios to a second a cycle.
    let mut api = api(&sim);
    api.rate = "100000/300s".parse().unwrap();
    api.burst = 10_000;
    let mut controller = Controller::new(opts, api, None);
    let cancel = CancellationToken::new();
    let mut out = Vec::with_capacity(minutes);
    for minute in 0..minutes {
        before(minute, &sim, &path);
        let _ = controller.reconcile_once(&cancel).await;
        out.push(controller.state().metrics.encode());
    }
    if notify.is_some() {
        // Let the queued events go out, so the scrape shows them counted.
        tokio::time::sleep(Duration::from_millis(500)).await;
        out.push(controller.state().metrics.encode());
    }
    sim.shutdown().await;
    out
}

/// Unlinks the managed policies from the wiki, as a dashboard edit would.
fn drift(sim: &Simulator) {
    let managed: Vec<String> = harness::managed_policies(sim)
        .iter()
        .filter_map(|p| p["id"].as_str().map(str::to_owned))
        .collect();
    sim.edit_app(&harness::app_id(sim, "Company wiki"), |app| {
        if let Some(Value::Array(links)) = app.get_mut("policies") {
            links.retain(|l| !managed.iter().any(|m| l["id"] == m.as_str()));
        }
    });
}

async fn outage() -> Timeline {
    // 5 good minutes, 25 with every API request failing, 10 good again.
    let mut step = |minute: usize, sim: &Simulator, _: &Path| {
        let error_rate = if (5..30).contains(&minute) { 1.0 } else { 0.0 };
        sim.set_faults(Faults {
            error_rate,
            ..Faults::default()
        });
    };
    Timeline {
        name: "API outage",
        scrapes: scrapes(40, None, &mut step).await,
        expect: vec![
            (4, &[]),
            // 3 failures in a row from minute 7: not yet 15 minutes. No success since
            // minute 4: more than 3 intervals from minute 8, for 5 minutes at 13.
            (11, &[]),
            (14, &["McpAccessNoRecentSuccess"]),
            (
                26,
                &["McpAccessReconcileFailing", "McpAccessNoRecentSuccess"],
            ),
            (39, &[]),
        ],
    }
}

async fn invalid_manifest() -> Timeline {
    let mut step = |minute: usize, _: &Simulator, path: &Path| match minute {
        3 => write_manifest(path, "owner: platform\nservers:\n  - app: No such app\n"),
        23 => write_manifest(path, DEMO),
        _ => {}
    };
    Timeline {
        name: "invalid manifest",
        scrapes: scrapes(30, None, &mut step).await,
        expect: vec![
            (2, &[]),
            (6, &[]),
            (
                14,
                &["McpAccessManifestInvalid", "McpAccessNoRecentSuccess"],
            ),
            (29, &[]),
        ],
    }
}

async fn drift_every_cycle() -> Timeline {
    let mut step = |minute: usize, sim: &Simulator, _: &Path| {
        if minute > 0 {
            drift(sim);
        }
    };
    Timeline {
        name: "drift on most cycles",
        scrapes: scrapes(70, None, &mut step).await,
        expect: vec![
            (2, &[]),
            (30, &["McpAccessDriftRecurring"]),
            (69, &["McpAccessDriftRecurring"]),
        ],
    }
}

async fn drift_now_and_then() -> Timeline {
    let mut step = |minute: usize, sim: &Simulator, _: &Path| {
        if minute > 0 && minute.is_multiple_of(4) {
            drift(sim);
        }
    };
    Timeline {
        name: "drift on a quarter of the cycles",
        scrapes: scrapes(70, None, &mut step).await,
        expect: vec![(30, &[]), (69, &[])],
    }
}

async fn rate_limited() -> Timeline {
    // From minute 3 another tool spends the whole (short) window's budget first.
    let mut step = |minute: usize, sim: &Simulator, _: &Path| {
        if minute == 3 {
            sim.set_rate_limit(Some(RateLimit {
                requests: 5,
                window: Duration::from_millis(200),
            }));
            sim.set_rate_limit_spent(5);
        }
        if minute >= 3 {
            // A fresh window for every cycle, as minutes apart would give. After a 429
            // the client sends nothing for a second and more, so only every few cycles
            // gets one (as in a real 5-minute block), on GET apps or GET policies.
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    Timeline {
        name: "rate limited",
        scrapes: scrapes(40, None, &mut step).await,
        expect: vec![
            (2, &[]),
            (12, &["McpAccessNoRecentSuccess"]),
            // The third 429 is seen as an increase whichever series the first two
            // started; it comes by minute 19 or so, and 15 minutes later the alert.
            (
                38,
                &[
                    "McpAccessRateLimited",
                    "McpAccessReconcileFailing",
                    "McpAccessNoRecentSuccess",
                ],
            ),
        ],
    }
}

/// A parsed scrape: series (`name{labels}`, labels in order) to value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            let value = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap(),
            };
            (series.to_owned(), value)
        })
        .collect()
}

fn name_of(series: &str) -> &str {
    &series[..series.find('{').unwrap_or(series.len())]
}

/// `series` with the target labels added.
fn with_target_labels(series: &str) -> String {
    let target: Vec<String> = TARGET_LABELS
        .iter()
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect();
    match series.split_once('{') {
        Some((name, labels)) => format!(
            "{name}{{{},{}}}",
            labels.trim_end_matches('}'),
            target.join(",")
        ),
        None => format!("{series}{{{}}}", target.join(",")),
    }
}

/// The promtool input series of a timeline: every series any scrape shows, one sample
/// a minute (`_` before it appears). Unix timestamps become the virtual minute they
/// were set in, so `time() - ...` means what it does in production.
fn input_series(timeline: &Timeline) -> Vec<Value> {
    let scraped: Vec<BTreeMap<String, f64>> = timeline.scrapes.iter().map(|t| samples(t)).collect();
    let all: BTreeSet<&String> = scraped.iter().flat_map(BTreeMap::keys).collect();
    let mut out = Vec::new();
    for series in all {
        let timestamp = name_of(series).ends_with("_timestamp_seconds");
        let mut values = Vec::new();
        let mut set_at: Option<(f64, f64)> = None; // (real, virtual)
        for (minute, scrape) in scraped.iter().enumerate() {
            let Some(&value) = scrape.get(series) else {
                values.push("_".to_owned());
                continue;
            };
            let value = if timestamp && value > 0.0 {
                match set_at {
                    Some((real, virt)) if (real - value).abs() < f64::EPSILON => virt,
                    _ => {
                        let virt = f64::from(u32::try_from(minute).unwrap()) * 60.0;
                        set_at = Some((value, virt));
                        virt
                    }
                }
            } else {
                value
            };
            values.push(format!("{value}"));
        }
        out.push(json!({"series": with_target_labels(series), "values": values.join(" ")}));
    }
    out
}

/// The rule groups of the `PrometheusRule`'s `spec`, as a plain rule file.
fn rule_groups() -> Value {
    let text = std::fs::read_to_string(RULES).unwrap();
    let doc: Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(doc["kind"], "PrometheusRule");
    json!({"groups": doc["spec"]["groups"]})
}

fn rules() -> Vec<Value> {
    rule_groups()["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().clone())
        .collect()
}

/// An annotation as Prometheus renders it for an alert with `labels`. Only
/// `{{ $labels.NAME }}` is used in the rules; anything else fails here, so that the
/// expectations stay exact.
fn render(template: &str, labels: &BTreeMap<String, String>) -> String {
    let mut out = template.to_owned();
    for (k, v) in labels {
        out = out.replace(&format!("{{{{ $labels.{k} }}}}"), v);
    }
    assert!(!out.contains("{{"), "unsupported template in {template:?}");
    out
}

fn alert_tests(timeline: &Timeline) -> Vec<Value> {
    let rules = rules();
    let mut tests = Vec::new();
    for (minute, firing) in &timeline.expect {
        for rule in &rules {
            let name = rule["alert"].as_str().unwrap();
            let exp_alerts: Vec<Value> = if firing.contains(&name) {
                let mut labels: BTreeMap<String, String> = TARGET_LABELS
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect();
                for (k, v) in rule["labels"].as_object().unwrap() {
                    labels.insert(k.clone(), v.as_str().unwrap().to_owned());
                }
                let annotations: BTreeMap<String, String> = rule["annotations"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), render(v.as_str().unwrap(), &labels)))
                    .collect();
                vec![json!({"exp_labels": labels, "exp_annotations": annotations})]
            } else {
                Vec::new()
            };
            tests.push(json!({
                "eval_time": format!("{minute}m"),
                "alertname": name,
                "exp_alerts": exp_alerts,
            }));
        }
    }
    tests
}

/// Every scenario, run once per test binary.
async fn timelines() -> Vec<Timeline> {
    vec![
        outage().await,
        invalid_manifest().await,
        drift_every_cycle().await,
        drift_now_and_then().await,
        rate_limited().await,
    ]
}

fn promtool() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("promtool"))
        .find(|p| p.is_file())
}

fn run_promtool(args: &[&str], dir: &Path) -> String {
    let output = std::process::Command::new(promtool().unwrap())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?}:\n{text}");
    text
}

/// Metric names (samples) and, for each, the label names the scrapes show.
fn exposed(timelines: &[Timeline], extra: &[String]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for text in timelines.iter().flat_map(|t| t.scrapes.iter()).chain(extra) {
        for series in samples(text).keys() {
            let labels = out.entry(name_of(series).to_owned()).or_default();
            if let Some((_, rest)) = series.split_once('{') {
                for pair in rest.trim_end_matches('}').split(',') {
                    labels.insert(pair.split_once('=').unwrap().0.to_owned());
                }
            }
        }
    }
    out
}

/// Every problem with the metric names and labels a `PromQL` expression uses.
fn check_query(query: &str, exposed: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let target: BTreeSet<&str> = TARGET_LABELS.iter().map(|(k, _)| *k).collect();
    let known_label = |l: &str| {
        target.contains(l) || l == "le" || exposed.values().any(|labels| labels.contains(l))
    };
    let mut problems = Vec::new();
    let bytes = query.as_bytes();
    let mut i = 0;
    let mut names = 0;
    while let Some(at) = query[i..].find("mcp_access_") {
        let start = i + at;
        let end = query[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(query.len(), |e| start + e);
        let name = &query[start..end];
        names += 1;
        match exposed.get(name) {
            None => problems.push(format!("`{name}` is not a metric the controller exposes")),
            Some(labels) => {
                if bytes.get(end) == Some(&b'{') {
                    let close = query[end..].find('}').unwrap() + end;
                    for matcher in query[end + 1..close]
                        .split(',')
                        .filter(|m| !m.trim().is_empty())
                    {
                        let label = matcher.split(['=', '!', '~']).next().unwrap().trim();
                        if !labels.contains(label) && !target.contains(label) {
                            problems.push(format!("`{name}` has no label `{label}`"));
                        }
                    }
                }
            }
        }
        i = end;
    }
    if names == 0 {
        problems.push("names no mcp_access_ metric".to_owned());
    }
    for keyword in ["by", "without", "ignoring", "on"] {
        let mut rest = query;
        while let Some(at) = rest.find(&format!("{keyword} (")) {
            let before = rest[..at].chars().last();
            let open = at + keyword.len() + 2;
            let close = rest[open..].find(')').unwrap() + open;
            if before.is_none_or(|c| !c.is_ascii_alphanumeric() && c != '_') {
                for label in rest[open..close]
                    .split(',')
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                {
                    if !known_label(label) {
                        problems.push(format!("`{keyword} ({label})`: no metric has that label"));
                    }
                }
            }
            rest = &rest[close..];
        }
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_rules_pass_promtool_on_series_the_controller_exposes_and_the_dashboard_queries_them()
{
    harness::within(async {
        let timelines = timelines().await;
        // Notifications only show in /metrics once sent: one more short run with a
        // receiver, for the dashboard's notifications panel.
        let receiver = Receiver::start(harness::Answer::Status(200)).await;
        let mut nothing = |_: usize, _: &Simulator, _: &Path| {};
        let with_notifications = scrapes(2, Some(&receiver), &mut nothing).await;
        receiver.stop();
        let exposed = exposed(&timelines, &with_notifications);

        // Every rule's expression names only exposed metrics and labels.
        let mut problems = Vec::new();
        for rule in rules() {
            let expr = rule["expr"].as_str().unwrap();
            for p in check_query(expr, &exposed) {
                problems.push(format!("rule {}: {p}", rule["alert"]));
            }
        }
        // Every alert has its runbook section.
        let runbooks = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/operations.md"
        ))
        .unwrap();
        for rule in rules() {
            let name = rule["alert"].as_str().unwrap();
            let url = rule["annotations"]["runbook_url"].as_str().unwrap();
            assert!(
                url.ends_with(&format!("docs/operations.md#{}", name.to_lowercase())),
                "{url}"
            );
            assert!(
                runbooks.lines().any(|l| l == format!("### {name}")),
                "docs/operations.md has no `### {name}` section"
            );
        }

        // Every dashboard query too.
        let dashboard: Value =
            serde_json::from_str(&std::fs::read_to_string(DASHBOARD).unwrap()).unwrap();
        let mut queries = Vec::new();
        collect_queries(&dashboard, &mut queries);
        assert!(queries.len() >= 10, "{queries:#?}");
        for query in &queries {
            for p in check_query(query, &exposed) {
                problems.push(format!("dashboard query {query:?}: {p}"));
            }
        }
        assert!(problems.is_empty(), "{problems:#?}");

        // The promtool test file, built from the scrapes.
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("promtool");
        std::fs::create_dir_all(&dir).unwrap();
        // JSON is YAML: promtool reads both files as written here.
        std::fs::write(dir.join("rules.yaml"), rule_groups().to_string()).unwrap();
        let tests: Vec<Value> = timelines
            .iter()
            .map(|t| {
                json!({
                    "name": t.name,
                    "interval": "1m",
                    "input_series": input_series(t),
                    "alert_rule_test": alert_tests(t),
                })
            })
            .collect();
        let file = json!({
            "rule_files": ["rules.yaml"],
            "evaluation_interval": "1m",
            "tests": tests,
        });
        std::fs::write(
            dir.join("rules.test.yaml"),
            serde_json::to_string_pretty(&file).unwrap(),
        )
        .unwrap();
        if promtool().is_none() {
            assert!(
                std::env::var_os("MCP_ACCESS_REQUIRE_PROMTOOL").is_none(),
                "promtool is required (MCP_ACCESS_REQUIRE_PROMTOOL) but not on the PATH"
            );
            // Straight to the process's stderr: `eprintln!` is captured by the test
            // harness and shown only for a failing test.
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!(
                    "\nSKIPPED: `promtool test rules` (promtool not on the PATH; `apt-get install prometheus` provides it). The test file is {}\n",
                    dir.join("rules.test.yaml").display()
                )
                .as_bytes(),
            );
            return;
        }
        run_promtool(&["check", "rules", "rules.yaml"], &dir);
        let out = run_promtool(&["test", "rules", "rules.test.yaml"], &dir);
        assert!(out.contains("SUCCESS"), "{out}");
    })
    .await;
}

/// Every `expr` (panel targets) and `query` (template variables) in the dashboard.
fn collect_queries(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr", Value::String(q)) => out.push(q.clone()),
                    ("query", Value::String(q)) if q.contains("mcp_access_") => {
                        out.push(q.clone());
                    }
                    ("query", Value::Object(q)) => {
                        if let Some(Value::String(q)) = q.get("query") {
                            out.push(q.clone());
                        }
                    }
                    _ => collect_queries(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_queries(v, out)),
        _ => {}
    }
}

#[test]
fn the_query_checker_catches_a_renamed_metric_or_label() {
    let mut exposed = BTreeMap::new();
    exposed.insert(
        "mcp_access_reconcile_total".to_owned(),
        BTreeSet::from(["result".to_owned()]),
    );
    assert!(
        check_query(
            "sum by (result) (rate(mcp_access_reconcile_total[5m]))",
            &exposed
        )
        .is_empty()
    );
    assert_eq!(
        check_query("rate(mcp_access_reconciles_total[5m])", &exposed).len(),
        1
    );
    assert_eq!(
        check_query("mcp_access_reconcile_total{outcome=\"success\"}", &exposed).len(),
        1
    );
    assert_eq!(
        check_query("sum by (outcome) (mcp_access_reconcile_total)", &exposed).len(),
        1
    );
    assert_eq!(check_query("up", &exposed).len(), 1);
}
