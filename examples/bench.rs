//! End-to-end benchmarks against the simulator with injected latency: reads (plan) at
//! two page caps compared with sequential paging and per-resource GETs, writes at the
//! rate limit, a no-op reconcile, and peak memory. Prints a Markdown table.
//!
//! ```sh
//! cargo run --release --example bench                 # full run, as in docs/benchmarks.md
//! cargo run --release --example bench -- --quick      # smaller account, faster limiter
//! cargo run --release --example bench -- --only reads  # one group: reads, memory, writes
//! cargo run --release --example bench -- --latency-ms 0 # the simulator's own overhead
//! ```
//!
//! The simulator runs in this process; peak RSS is measured in a child process that
//! does exactly what `mcp-access plan` does, so the simulator's memory is not counted.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use mcp_access::cloudflare::{ApiObserver, Client, ClientConfig, Rate};
use mcp_access::manifest;
use mcp_access::reconcile::{self, ReconcileOptions};
use mcp_access::sim::synthetic::{Shape, Synthetic, synthetic};
use mcp_access::sim::{Faults, SimConfig, Simulator};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

/// Counts requests by method, as the API would see them.
#[derive(Default)]
struct Counter {
    by_method: std::sync::Mutex<BTreeMap<String, usize>>,
    retries: AtomicUsize,
}

impl ApiObserver for Counter {
    fn request(&self, method: &str, _endpoint: &str, _status: u16) {
        *self
            .by_method
            .lock()
            .unwrap()
            .entry(method.to_owned())
            .or_default() += 1;
    }
    fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }
}

impl Counter {
    fn get(&self, method: &str) -> usize {
        self.by_method
            .lock()
            .unwrap()
            .get(method)
            .copied()
            .unwrap_or(0)
    }
    fn writes(&self) -> usize {
        self.by_method
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, _)| m.as_str() != "GET")
            .map(|(_, n)| n)
            .sum()
    }
    fn total(&self) -> usize {
        self.by_method.lock().unwrap().values().sum()
    }
}

struct Settings {
    apps: usize,
    servers: usize,
    foreign: usize,
    latency: Duration,
    /// The client's limiter in the write benchmark.
    rate: Rate,
    burst: u32,
}

fn client(
    sim: &Simulator,
    concurrency: usize,
    rate: Rate,
    burst: u32,
    counter: &Arc<Counter>,
) -> Client {
    let mut config = ClientConfig::new(
        sim.base_url(),
        sim.account_id(),
        SecretString::from(sim.token().to_owned()),
    );
    config.concurrency = concurrency;
    config.rate = rate;
    config.burst = burst;
    config.request_timeout = Duration::from_secs(60);
    config.retry_deadline = Duration::from_secs(600);
    Client::with_observer(config, counter.clone()).expect("client")
}

/// No client-side limit: read benchmarks measure paging, not the limiter.
fn unlimited() -> (Rate, u32) {
    (
        Rate {
            requests: 1_000_000,
            per: Duration::from_secs(1),
        },
        1_000_000,
    )
}

impl Settings {
    /// The synthetic account; the first `missing` downstream apps (two servers each)
    /// lack their managed links, 2 × `missing` links for an apply to add.
    fn account(&self, missing: usize) -> Synthetic {
        synthetic(Shape {
            apps: self.apps,
            servers: self.servers,
            foreign_policies: self.foreign,
            missing_apps: missing,
            double_apps: missing,
        })
    }
}

async fn start(account: &Synthetic, apps_page_cap: usize, latency: Duration) -> Simulator {
    let config = SimConfig {
        apps_page_cap,
        rate_limit: None,
        faults: Faults {
            latency,
            ..Faults::default()
        },
        ..SimConfig::default()
    };
    Simulator::start(config, account.seed.clone())
        .await
        .expect("simulator")
}

struct Row {
    what: String,
    requests: String,
    wall: Duration,
    note: String,
}

async fn read_benchmarks(s: &Settings, rows: &mut Vec<Row>) {
    let account = s.account(0);
    let manifest =
        manifest::parse_str("bench.yaml", &account.manifest, &|_| None).expect("manifest");
    let policies = account.seed.policies.len();
    for cap in [1000, 50] {
        let sim = start(&account, cap, s.latency).await;
        // One GET per page, and a walk ends only at a short or an empty page (never
        // on the total alone): a list whose last page is full costs one empty page more.
        let bound = (s.apps / cap + 1) + (policies / 1000 + 1);
        for (label, concurrency) in [
            ("concurrent pages, --concurrency 4", 4),
            ("concurrent pages, --concurrency 8", 8),
            ("pages one after another", 1),
        ] {
            let counter = Arc::new(Counter::default());
            let (rate, burst) = unlimited();
            let client = client(&sim, concurrency, rate, burst, &counter);
            let started = Instant::now();
            let (_, plan) = reconcile::plan_once(&client, &manifest, "bench")
                .await
                .expect("plan");
            let wall = started.elapsed();
            assert!(plan.is_empty(), "the read benchmark account is converged");
            rows.push(Row {
                what: format!(
                    "plan {} apps / {policies} policies, apps page cap {cap}: {label}",
                    s.apps
                ),
                requests: format!("{} GET (lower bound {bound})", counter.get("GET")),
                wall,
                note: String::new(),
            });
        }
        if cap == 1000 {
            // Terraform-style refresh: one GET per app after listing them.
            let counter = Arc::new(Counter::default());
            let (rate, burst) = unlimited();
            let client = client(&sim, 4, rate, burst, &counter);
            let started = Instant::now();
            let apps = client.list_apps().await.expect("list");
            let sample = apps.len().min(1000);
            futures::stream::iter(apps.iter().take(sample))
                .map(|a| client.get_app(a.id()))
                .buffer_unordered(4)
                .for_each(|r| async {
                    r.expect("get");
                })
                .await;
            let measured = started.elapsed();
            #[allow(clippy::cast_precision_loss)]
            let scaled = measured.mul_f64(apps.len() as f64 / sample as f64);
            let requests = apps.len() + policies + 1;
            let floor = Duration::from_secs((requests as u64 * 300).div_ceil(1200));
            rows.push(Row {
                what: format!("one GET per resource (apps and policies), {} apps", s.apps),
                requests: format!("{requests} GET"),
                wall: scaled,
                note: format!(
                    "measured on {sample} apps and scaled; Cloudflare's 1,200/5 min makes it at least {}",
                    humantime::format_duration(floor)
                ),
            });
        }
        sim.shutdown().await;
    }
}

async fn write_benchmarks(s: &Settings, rows: &mut Vec<Row>) {
    // 1,000 missing links across 500 apps (two servers each).
    let account = s.account(500);
    let manifest =
        manifest::parse_str("bench.yaml", &account.manifest, &|_| None).expect("manifest");
    let sim = start(&account, 1000, s.latency).await;
    let counter = Arc::new(Counter::default());
    let client = client(&sim, 4, s.rate, s.burst, &counter);
    let options = ReconcileOptions {
        owner: "bench".into(),
        dry_run: false,
        max_rounds: 3,
        plan: mcp_access::plan::PlanOptions::default(),
    };
    let started = Instant::now();
    let outcome = reconcile::reconcile(&client, &manifest, &options, &CancellationToken::new())
        .await
        .expect("reconcile");
    let wall = started.elapsed();
    assert!(outcome.converged());
    assert_eq!(outcome.first_plan.summary().attach, account.missing_links);
    let writes = counter.writes();
    let total = counter.total();
    // What the client's limiter allows: the burst at once, then the sustained rate.
    let allowed = |n: usize| -> Duration {
        let beyond = u32::try_from(n.saturating_sub(s.burst as usize)).unwrap_or(u32::MAX);
        s.rate.per * beyond / s.rate.requests
    };
    #[allow(clippy::cast_precision_loss)]
    let ratio = |d: Duration| wall.as_secs_f64() / d.as_secs_f64().max(1e-9);
    rows.push(Row {
        what: format!("apply {} new links across 500 apps", account.missing_links),
        requests: format!(
            "{writes} writes (PUT), {} GET, {total} in all",
            counter.get("GET")
        ),
        wall,
        note: format!(
            "limiter {}/{} burst {}: all requests need {} (ratio {:.2}); the writes alone {} (ratio {:.2})",
            s.rate.requests,
            humantime::format_duration(s.rate.per),
            s.burst,
            humantime::format_duration(allowed(total)),
            ratio(allowed(total)),
            humantime::format_duration(allowed(writes)),
            ratio(allowed(writes)),
        ),
    });

    // The account is converged now: a reconcile makes zero writes.
    let counter = Arc::new(Counter::default());
    let (rate, burst) = unlimited();
    let client = self::client(&sim, 4, rate, burst, &counter);
    let started = Instant::now();
    let outcome = reconcile::reconcile(&client, &manifest, &options, &CancellationToken::new())
        .await
        .expect("reconcile");
    assert!(outcome.rounds.is_empty());
    rows.push(Row {
        what: format!("no-op reconcile of the converged {}-app account", s.apps),
        requests: format!("{} writes, {} GET", counter.writes(), counter.get("GET")),
        wall: started.elapsed(),
        note: String::new(),
    });
    sim.shutdown().await;
}

/// Child mode: plan against `url` as `mcp-access plan` does, then report peak RSS.
/// `BENCH_PHASES=1`: memory after each step of a plan, to see where it goes.
async fn phases(client: &Client, manifest: &manifest::Manifest) {
    let hwm = || {
        std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("VmHWM") || l.starts_with("VmRSS"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    eprintln!("start: {}", hwm());
    if let Ok(url) = std::env::var("BENCH_PAGE_URL") {
        let body = reqwest::Client::new()
            .get(url)
            .bearer_auth("sim-token")
            .send()
            .await
            .expect("page")
            .bytes()
            .await
            .expect("body");
        eprintln!("one page: {} KB: {}", body.len() / 1024, hwm());
    }
    let apps = client.list_apps().await.expect("apps");
    let kept: usize = apps
        .iter()
        .map(|a| serde_json::to_string(a.raw()).map_or(0, |j| j.len()))
        .sum();
    eprintln!("apps listed ({} KB of JSON kept): {}", kept / 1024, hwm());
    let policies = client.list_policies().await.expect("policies");
    let inventory = mcp_access::inventory::Inventory::new(apps, policies);
    eprintln!("inventory: {}", hwm());
    let desired = manifest::resolve(manifest, "bench", &inventory).expect("resolve");
    eprintln!("resolved: {}", hwm());
    let plan = mcp_access::plan::diff(&desired, &inventory);
    eprintln!("diffed: {} ({} writes)", hwm(), plan.writes());
    let fingerprint = inventory.fingerprint();
    eprintln!("fingerprint {}: {}", &fingerprint[..8], hwm());
}

async fn child_plan(url: String, account_id: String, token: String) {
    let manifest_path = std::env::var("BENCH_MANIFEST").expect("BENCH_MANIFEST");
    let manifest = manifest::load(&[manifest_path.into()]).expect("manifest");
    let config = ClientConfig::new(url, account_id, SecretString::from(token));
    let client = Client::new(config).expect("client");
    if std::env::var_os("BENCH_PHASES").is_some() {
        phases(&client, &manifest).await;
    }
    let (_, plan) = reconcile::plan_once(&client, &manifest, "bench")
        .await
        .expect("plan");
    let mut sink = Vec::new();
    mcp_access::plan::text::render(&plan, mcp_access::plan::text::Palette::plain(), &mut sink)
        .expect("render");
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .unwrap_or("VmHWM: 0 kB")
        .to_owned();
    println!("{hwm}");
}

async fn memory_benchmark(s: &Settings, rows: &mut Vec<Row>) {
    let account = s.account(500);
    let dir = tempfile_dir();
    let manifest_path = dir.join("bench.yaml");
    std::fs::write(&manifest_path, &account.manifest).expect("write manifest");
    let sim = start(&account, 1000, s.latency).await;
    let started = Instant::now();
    let out = tokio::process::Command::new(std::env::current_exe().expect("exe"))
        .args([
            "--child-plan",
            &sim.base_url(),
            sim.account_id(),
            sim.token(),
        ])
        .env("BENCH_MANIFEST", &manifest_path)
        .env(
            "BENCH_PAGE_URL",
            format!(
                "{}/accounts/{}/access/apps?page=1&per_page=1000",
                sim.base_url(),
                sim.account_id()
            ),
        )
        .output()
        .await
        .expect("child");
    let wall = started.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    let kb: u64 = text
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    rows.push(Row {
        what: format!(
            "peak RSS of a plan of {} apps / {} policies (separate process)",
            s.apps,
            account.seed.policies.len()
        ),
        requests: String::new(),
        wall,
        note: format!("{} MB", kb.div_ceil(1024)),
    });
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mcp-access-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    if args.get(1).map(String::as_str) == Some("--child-plan") {
        runtime.block_on(child_plan(
            args[2].clone(),
            args[3].clone(),
            args[4].clone(),
        ));
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    // `--only reads|memory|writes` runs one group.
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let run = |group: &str| only.as_deref().is_none_or(|o| o == group);
    let settings = if quick {
        Settings {
            apps: 2_000,
            servers: 200,
            foreign: 200,
            latency: Duration::from_millis(50),
            rate: Rate {
                requests: 10_000,
                per: Duration::from_secs(300),
            },
            burst: 200,
        }
    } else {
        Settings {
            apps: 10_000,
            servers: 1_000,
            foreign: 1_000,
            latency: Duration::from_millis(50),
            // The CLI's defaults.
            rate: Rate {
                requests: 1_000,
                per: Duration::from_secs(300),
            },
            burst: 200,
        }
    };
    let mut settings = settings;
    if let Some(ms) = args
        .iter()
        .position(|a| a == "--latency-ms")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
    {
        settings.latency = Duration::from_millis(ms);
    }
    let mut rows = Vec::new();
    runtime.block_on(async {
        if run("reads") {
            eprintln!("reads...");
            read_benchmarks(&settings, &mut rows).await;
        }
        if run("memory") {
            eprintln!("memory...");
            memory_benchmark(&settings, &mut rows).await;
        }
        if run("writes") {
            eprintln!("writes (paced by the rate limiter)...");
            write_benchmarks(&settings, &mut rows).await;
        }
    });
    println!(
        "Simulator latency {} per request.\n",
        humantime::format_duration(settings.latency)
    );
    println!("| benchmark | requests | wall | notes |\n|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {:.2} s | {} |",
            r.what,
            r.requests,
            r.wall.as_secs_f64(),
            r.note
        );
    }
}
