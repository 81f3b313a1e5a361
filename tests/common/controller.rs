#![allow(dead_code)] // each test binary uses part of it

//! The controller in-process against a simulator with the demo account, its ops server
//! on a free port; a parsed `/metrics` scrape; a local webhook receiver that records
//! what it is sent and can answer with errors, slowly, or not at all.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use mcp_access::cloudflare::ApiSettings;
use mcp_access::controller::{Controller, Jitter, RunMode, RunOptions};
use mcp_access::notify::NotifySettings;
use mcp_access::sim::{Seed, SimConfig, Simulator};
use secrecy::SecretString;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Bound on every test.
pub const TIMEOUT: Duration = Duration::from_secs(90);
/// Bound on one `eventually`.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The demo manifest: two servers, four links (one app shared).
pub const DEMO: &str = include_str!("../../examples/demo.yaml");

/// The start of every managed policy name of the demo manifest's owner.
pub const MANAGED: &str = "[mcp-access:platform] MCP server";

/// API settings pointing at `sim`.
pub fn api(sim: &Simulator) -> ApiSettings {
    ApiSettings {
        base_url: sim.base_url(),
        account_id: Some(sim.account_id().to_owned()),
        token: Some(SecretString::from(sim.token().to_owned())),
        concurrency: 4,
        request_timeout: Duration::from_secs(5),
        rate: "1000/300s".parse().unwrap(),
        burst: 200,
        retry_deadline: Duration::from_secs(10),
        read_timeout: Duration::from_secs(5),
        max_response_bytes: mcp_access::cloudflare::DEFAULT_MAX_RESPONSE_BYTES,
        max_list_items: mcp_access::cloudflare::DEFAULT_MAX_LIST_ITEMS,
        progress: false,
    }
}

/// Heal mode, a 200 ms interval, no notifications.
pub fn options(manifest: PathBuf) -> RunOptions {
    RunOptions {
        mode: RunMode::Heal,
        notify: NotifySettings::default(),
        safety: mcp_access::safety::Safety::default(),
        files: vec![manifest],
        interval: Duration::from_millis(200),
        jitter: Jitter::NONE,
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        once: false,
        grace_period: Duration::from_secs(5),
        backoff_base: Duration::from_millis(50),
        api_retry_deadline: Duration::from_millis(200),
        plan: mcp_access::plan::PlanOptions::default(),
        adopt: false,
    }
}

/// Writes a file the way a `ConfigMap` update or a git sync lands: whole, by rename.
pub fn write_manifest(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A simulator with the demo account and a controller running against it.
pub struct Running {
    pub sim: Simulator,
    _dir: tempfile::TempDir,
    pub manifest: PathBuf,
    pub addr: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), mcp_access::Error>>,
    pub http: reqwest::Client,
}

impl Running {
    /// Starts the controller on `manifest`, its options changed by `tune`.
    pub async fn start(manifest: &str, tune: impl FnOnce(&mut RunOptions)) -> Self {
        let sim = Simulator::start(SimConfig::default(), Seed::demo())
            .await
            .unwrap();
        Self::start_on(sim, manifest, tune).await
    }

    /// [`Running::start`] against a simulator already prepared.
    pub async fn start_on(
        sim: Simulator,
        manifest: &str,
        tune: impl FnOnce(&mut RunOptions),
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.yaml");
        write_manifest(&path, manifest);
        let mut opts = options(path.clone());
        tune(&mut opts);
        let controller = Controller::new(opts, api(&sim), None);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        // On the runtime's worker threads, as the binary runs it.
        let task = tokio::spawn(controller.run(Some(listener), shutdown.clone()));
        Self {
            sim,
            _dir: dir,
            manifest: path,
            addr,
            shutdown,
            task,
            http: reqwest::Client::new(),
        }
    }

    pub fn edit_manifest(&self, text: &str) {
        write_manifest(&self.manifest, text);
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("http://{}{path}", self.addr))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    pub async fn status(&self, path: &str) -> u16 {
        self.get(path).await.0
    }

    pub async fn metrics(&self) -> Scrape {
        let (status, text) = self.get("/metrics").await;
        assert_eq!(status, 200);
        Scrape::parse(&text)
    }

    pub async fn metric(&self, series: &str) -> f64 {
        self.metrics().await.value(series)
    }

    /// Waits until `/readyz` says 200.
    pub async fn wait_ready(&self) {
        eventually("ready", || async { self.status("/readyz").await == 200 }).await;
    }

    /// Waits until `n` more reconciles (of any result) have finished.
    pub async fn wait_cycles(&self, n: f64) {
        let before = self.metrics().await.cycles();
        eventually("more reconciles", || async {
            self.metrics().await.cycles() >= before + n
        })
        .await;
    }

    pub fn app_id(&self, name: &str) -> String {
        app_id(&self.sim, name)
    }

    /// Names of the managed policies linked to an app, sorted.
    pub fn managed_on(&self, app: &str) -> Vec<String> {
        let app = self.sim.app(&self.app_id(app)).unwrap();
        let mut names: Vec<String> = app["policies"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["name"].as_str())
            .filter(|n| n.starts_with(MANAGED))
            .map(str::to_owned)
            .collect();
        names.sort();
        names
    }

    /// Unlinks every managed policy from an app, as a dashboard edit would.
    pub fn detach_managed(&self, app: &str) {
        let managed: Vec<String> = managed_policies(&self.sim)
            .iter()
            .filter_map(|p| p["id"].as_str().map(str::to_owned))
            .collect();
        self.sim.edit_app(&self.app_id(app), |app| {
            if let Some(Value::Array(links)) = app.get_mut("policies") {
                links.retain(|l| !managed.iter().any(|m| l["id"] == m.as_str()));
            }
        });
    }

    /// Stops the controller; panics when it ended with an error.
    pub async fn stop(self) {
        self.stop_keep_sim().await.shutdown().await;
    }

    /// Stops the controller and hands back the simulator, still running.
    pub async fn stop_keep_sim(self) -> Simulator {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
        self.sim
    }
}

pub fn app_id(sim: &Simulator, name: &str) -> String {
    sim.apps()
        .into_iter()
        .find(|a| a["name"] == name)
        .and_then(|a| a["id"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no app {name}"))
}

pub fn managed_policies(sim: &Simulator) -> Vec<Value> {
    sim.policies()
        .into_iter()
        .filter(|p| p["name"].as_str().unwrap_or_default().starts_with(MANAGED))
        .collect()
}

pub fn server_policy(server: &str) -> String {
    format!("{MANAGED} {server}")
}

/// Runs a test body, bounded by [`TIMEOUT`].
pub async fn within<F: Future>(body: F) -> F::Output {
    tokio::time::timeout(TIMEOUT, body)
        .await
        .expect("test timed out")
}

/// Polls `check` until it holds, failing the test after [`PATIENCE`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A parsed `/metrics` page: every sample by its series (`name{labels}`), and the
/// declared types.
#[derive(Debug, Clone)]
pub struct Scrape {
    pub samples: HashMap<String, f64>,
    pub types: HashMap<String, String>,
}

impl Scrape {
    /// Parses the Prometheus text format strictly enough that a malformed line fails.
    pub fn parse(text: &str) -> Self {
        let mut samples = HashMap::new();
        let mut types = HashMap::new();
        for line in text.lines().filter(|l| !l.is_empty()) {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
                types.insert(name.to_owned(), kind.to_owned());
                continue;
            }
            if line.starts_with("# HELP ") || line == "# EOF" {
                continue;
            }
            assert!(!line.starts_with('#'), "unexpected comment {line:?}");
            let (series, value) = line.rsplit_once(' ').expect("series value");
            let name_end = series.find('{').unwrap_or(series.len());
            let name = &series[..name_end];
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "bad metric name in {line:?}"
            );
            if name_end < series.len() {
                assert!(series.ends_with('}'), "bad labels in {line:?}");
            }
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                v => v
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value in {line:?}")),
            };
            samples.insert(series.to_owned(), value);
        }
        Self { samples, types }
    }

    /// The value of a series; 0 when absent (counters not yet incremented).
    pub fn value(&self, series: &str) -> f64 {
        self.samples.get(series).copied().unwrap_or(0.0)
    }

    /// The sum of every series of `metric`, whatever its labels (like `PromQL`'s
    /// `sum(metric)`); panics when the scrape has none, so a renamed metric fails.
    pub fn sum(&self, metric: &str) -> f64 {
        let series: Vec<f64> = self
            .samples
            .iter()
            .filter(|(k, _)| *k == metric || k.starts_with(&format!("{metric}{{")))
            .map(|(_, v)| *v)
            .collect();
        assert!(!series.is_empty(), "no series of {metric} in the scrape");
        series.iter().sum()
    }

    /// Reconciles finished, whatever their result.
    pub fn cycles(&self) -> f64 {
        self.samples
            .iter()
            .filter(|(k, _)| k.starts_with("mcp_access_reconcile_total{"))
            .map(|(_, v)| v)
            .sum()
    }
}

/// How the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// With this status at once.
    Status(u16),
    /// Never: the request hangs until the client gives up.
    Hang,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub content_type: String,
    pub body: Value,
}

#[derive(Clone)]
struct ReceiverState {
    received: Arc<Mutex<Vec<Received>>>,
    /// Requests seen, answered or not.
    attempts: Arc<Mutex<usize>>,
    answer: Arc<Mutex<Answer>>,
}

/// A local webhook receiver on a free port.
pub struct Receiver {
    pub addr: SocketAddr,
    state: ReceiverState,
    task: JoinHandle<()>,
}

impl Receiver {
    pub async fn start(answer: Answer) -> Self {
        let state = ReceiverState {
            received: Arc::default(),
            attempts: Arc::default(),
            answer: Arc::new(Mutex::new(answer)),
        };
        let app = Router::new()
            .fallback(post(receive))
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state, task }
    }

    /// A URL on this receiver with a secret-looking path.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn answer(&self, answer: Answer) {
        *self.state.answer.lock().unwrap() = answer;
    }

    /// What was delivered (answered with a 2xx), in order.
    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Requests seen, delivered or not.
    pub fn attempts(&self) -> usize {
        *self.state.attempts.lock().unwrap()
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

async fn receive(
    State(state): State<ReceiverState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    *state.attempts.lock().unwrap() += 1;
    let answer = *state.answer.lock().unwrap();
    match answer {
        Answer::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::OK
        }
        Answer::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap();
            if status.is_success() {
                state.received.lock().unwrap().push(Received {
                    path: uri.path().to_owned(),
                    content_type: headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned(),
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                });
            }
            status
        }
    }
}
