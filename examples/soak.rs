//! Soak test of the controller (a benchmark-style run, not a CI test): `mcp-access run`
//! at a 1 s interval against the simulator with mixed faults, drift injected every
//! cycle, and the ops port flooded with concurrent requests every few minutes.
//! Samples the controller's RSS and open file descriptors, and prints a Markdown
//! report (the numbers in `docs/benchmarks.md`).
//!
//! ```sh
//! cargo build --release --bins --example soak
//! target/release/examples/soak                       # 30 minutes, as reported
//! target/release/examples/soak --minutes 2 --flood-every 30s   # a quick look
//! target/release/examples/soak --minutes 6 --flood-every 15s --faults none  # the floods' effect on the loop
//! ```
//!
//! The simulator (the same server `mcp-access sim serve` runs) lives in this process,
//! so drift can be injected out of band, the way a dashboard user makes it; the
//! controller is the real binary in a child process, so its RSS and fds are its own.

// Statistics over at most a few thousand samples: f64 is exact enough.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcp_access::sim::synthetic::{Shape, synthetic};
use mcp_access::sim::{Faults, JournalEntry, RateLimit, SimConfig, Simulator};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The faults injected into every API request during the soak (`--faults` changes them).
const FAULTS: &str = "latency=2ms,jitter=8ms,error=0.03,reset=0.02,lost=0.03,slow=0.003:5s";

struct Settings {
    minutes: f64,
    faults: String,
    interval: &'static str,
    flood: usize,
    flood_every: Duration,
    bin: PathBuf,
}

impl Settings {
    fn from_args() -> Self {
        let mut settings = Settings {
            minutes: 30.0,
            faults: FAULTS.to_owned(),
            interval: "1s",
            flood: 2000,
            flood_every: Duration::from_secs(300),
            bin: PathBuf::from(
                std::env::var("MCP_ACCESS_BIN").unwrap_or("target/release/mcp-access".into()),
            ),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || args.next().expect("a value after the flag");
            match arg.as_str() {
                "--minutes" => settings.minutes = value().parse().expect("--minutes N"),
                "--flood" => settings.flood = value().parse().expect("--flood N"),
                "--faults" => settings.faults = value(),
                "--flood-every" => {
                    settings.flood_every =
                        humantime::parse_duration(&value()).expect("--flood-every 5m");
                }
                "--bin" => settings.bin = PathBuf::from(value()),
                other => panic!("unknown argument {other}"),
            }
        }
        settings
    }
}

/// One reconcile, from the controller's JSON log.
#[derive(Debug, Clone)]
struct Cycle {
    /// Seconds since the controller started, when the line was read.
    at: f64,
    ok: bool,
    result: String,
    duration_ms: f64,
}

/// One resource sample of the controller process.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: f64,
    rss_kb: u64,
    fds: usize,
}

/// The controller under test.
struct Controller {
    child: Child,
    cycles: Arc<Mutex<Vec<Cycle>>>,
    ops: Arc<Mutex<Option<SocketAddr>>>,
    started: Instant,
}

impl Controller {
    fn start(settings: &Settings, sim: &Simulator, manifest: &std::path::Path) -> Self {
        let mut child = Command::new(&settings.bin)
            .env_clear()
            .env("CLOUDFLARE_API_BASE_URL", sim.base_url())
            .env("CLOUDFLARE_ACCOUNT_ID", sim.account_id())
            .env("CLOUDFLARE_API_TOKEN", sim.token())
            .env("NO_COLOR", "1")
            .args(["run", "--log-format", "json", "--listen", "127.0.0.1:0"])
            .args(["--interval", settings.interval, "--jitter", "0"])
            .args(["--request-timeout", "3s", "--rate-limit", "5000/60s"])
            .arg("-f")
            .arg(manifest)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} ({e}); build it with `cargo build --release --bins`",
                    settings.bin.display()
                )
            });
        let started = Instant::now();
        let cycles = Arc::new(Mutex::new(Vec::new()));
        let ops = Arc::new(Mutex::new(None));
        let pipe = child.stderr.take().unwrap();
        let (c, o) = (Arc::clone(&cycles), Arc::clone(&ops));
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let Ok(v) = serde_json::from_str::<Value>(&line) else {
                    eprintln!("controller: {line}");
                    continue;
                };
                let fields = &v["fields"];
                let message = fields["message"].as_str().unwrap_or_default();
                if message.contains("ops server listening") {
                    *o.lock().unwrap() = fields["addr"].as_str().and_then(|a| a.parse().ok());
                }
                let Some(result) = fields["result"].as_str() else {
                    continue;
                };
                c.lock().unwrap().push(Cycle {
                    at: started.elapsed().as_secs_f64(),
                    ok: result == "success",
                    result: result.to_owned(),
                    duration_ms: fields["duration_ms"].as_f64().unwrap_or(0.0),
                });
            }
        });
        Self {
            child,
            cycles,
            ops,
            started,
        }
    }

    fn sample(&self) -> Sample {
        let pid = self.child.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let rss_kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0);
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count);
        Sample {
            at: self.started.elapsed().as_secs_f64(),
            rss_kb,
            fds,
        }
    }

    fn ops(&self) -> Option<SocketAddr> {
        *self.ops.lock().unwrap()
    }

    fn stop(mut self) -> Vec<Cycle> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(200));
        self.cycles.lock().unwrap().clone()
    }
}

/// Out-of-band drift, one change a cycle, the way a dashboard user would make it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Drift {
    /// A managed policy removed from an app's list.
    Detach,
    /// A rule added to a managed policy's include.
    EditRule,
    /// A managed policy deleted (and so unlinked everywhere).
    DeletePolicy,
}

fn inject(sim: &Simulator, rng: &mut fastrand::Rng) -> Option<Drift> {
    let managed: Vec<Value> = sim
        .policies()
        .into_iter()
        .filter(|p| {
            p["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("[mcp-access:bench]"))
        })
        .collect();
    let ids: Vec<String> = managed
        .iter()
        .filter_map(|p| p["id"].as_str().map(str::to_owned))
        .collect();
    let roll = rng.u32(0..100);
    if roll < 55 {
        let linked: Vec<String> = sim
            .apps()
            .into_iter()
            .filter(|a| {
                a["policies"].as_array().is_some_and(|links| {
                    links
                        .iter()
                        .any(|l| ids.iter().any(|id| l["id"] == id.as_str()))
                })
            })
            .filter_map(|a| a["id"].as_str().map(str::to_owned))
            .collect();
        let app = linked.get(rng.usize(0..linked.len().max(1)))?;
        sim.edit_app(app, |app| {
            if let Some(Value::Array(links)) = app.get_mut("policies") {
                links.retain(|l| !ids.iter().any(|id| l["id"] == id.as_str()));
            }
        });
        Some(Drift::Detach)
    } else if roll < 85 {
        let id = ids.get(rng.usize(0..ids.len().max(1)))?;
        sim.edit_policy(id, |p| {
            if let Some(Value::Array(include)) = p.get_mut("include") {
                include.push(serde_json::json!({"email": {"email": "someone@example.com"}}));
            }
        });
        Some(Drift::EditRule)
    } else {
        let id = ids.get(rng.usize(0..ids.len().max(1)))?;
        sim.remove_policy(id);
        Some(Drift::DeletePolicy)
    }
}

/// What a flood of the ops port saw.
#[derive(Default)]
struct Flooded {
    /// Latency of each request answered (connect to the end of the response).
    latencies: Vec<Duration>,
    /// Requests without a complete HTTP response.
    failed: usize,
    /// Responses other than 200 (`/healthz` says 503 while a cycle runs long).
    not_ok: usize,
}

/// `n` concurrent requests to the ops port (half `/healthz`, half `/metrics`), each on
/// its own connection. Runs on a thread and runtime of its own, so the flood does not
/// slow the simulator (in this process) and, through it, the loop under test.
fn flood(addr: SocketAddr, n: usize) -> Flooded {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let tasks: Vec<_> = (0..n)
                .map(|i| {
                    tokio::spawn(async move {
                        let path = if i % 2 == 0 { "/healthz" } else { "/metrics" };
                        let started = Instant::now();
                        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
                        let request = format!(
                            "GET {path} HTTP/1.1\r\nHost: ops\r\nConnection: close\r\n\r\n"
                        );
                        stream.write_all(request.as_bytes()).await.ok()?;
                        let mut body = Vec::new();
                        stream.read_to_end(&mut body).await.ok()?;
                        body.starts_with(b"HTTP/1.1 ")
                            .then(|| (started.elapsed(), body.starts_with(b"HTTP/1.1 200")))
                    })
                })
                .collect();
            let mut seen = Flooded::default();
            for task in tasks {
                match tokio::time::timeout(Duration::from_secs(60), task).await {
                    Ok(Ok(Some((latency, ok)))) => {
                        seen.latencies.push(latency);
                        seen.not_ok += usize::from(!ok);
                    }
                    _ => seen.failed += 1,
                }
            }
            seen
        })
    })
    .join()
    .unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p / 100.0 * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

/// Mean and maximum reconcile duration of `cycles`, and how many there are.
fn durations<'a>(cycles: impl Iterator<Item = &'a Cycle>) -> (usize, f64, f64) {
    let d: Vec<f64> = cycles.map(|c| c.duration_ms).collect();
    let mean = d.iter().sum::<f64>() / d.len().max(1) as f64;
    (d.len(), mean, d.iter().copied().fold(0.0, f64::max))
}

/// The least-squares slope of `y` over `x`, per hour of `x` seconds.
fn slope_per_hour(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (mx, my) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let cov: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let var: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if var == 0.0 { 0.0 } else { cov / var * 3600.0 }
}

/// What the soak saw, apart from the controller's own log.
#[derive(Default)]
struct Observed {
    samples: Vec<Sample>,
    drifts: BTreeMap<Drift, usize>,
    /// Start and end of each flood, in seconds since the controller started.
    floods: Vec<(f64, f64)>,
    latencies: Vec<Duration>,
    flood_failures: usize,
    flood_not_ok: usize,
}

/// Injects drift every second for `total`, sampling the controller every 5 s and
/// flooding its ops port every `settings.flood_every`.
async fn soak(settings: &Settings, sim: &Simulator, controller: &Controller) -> Observed {
    let total = Duration::from_secs_f64(settings.minutes * 60.0);
    let mut rng = fastrand::Rng::with_seed(11);
    let mut seen = Observed {
        samples: vec![controller.sample()],
        ..Observed::default()
    };
    let started = Instant::now();
    let mut next_flood = started + settings.flood_every;
    let mut next_sample = started + Duration::from_secs(5);
    let mut next_report = started + Duration::from_secs(60);
    while started.elapsed() < total {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Some(kind) = inject(sim, &mut rng) {
            *seen.drifts.entry(kind).or_default() += 1;
        }
        let now = Instant::now();
        if now >= next_sample {
            seen.samples.push(controller.sample());
            next_sample = now + Duration::from_secs(5);
        }
        if now >= next_flood && settings.flood > 0 {
            if let Some(addr) = controller.ops() {
                let settings_flood = settings.flood;
                let from = controller.started.elapsed().as_secs_f64();
                let flooded = tokio::task::spawn_blocking(move || flood(addr, settings_flood))
                    .await
                    .unwrap();
                let to = controller.started.elapsed().as_secs_f64();
                eprintln!(
                    "flood of {}: {} answered ({} not 200) in {:.1}s, {} failed",
                    settings.flood,
                    flooded.latencies.len(),
                    flooded.not_ok,
                    to - from,
                    flooded.failed
                );
                seen.floods.push((from, to));
                seen.latencies.extend(flooded.latencies);
                seen.flood_failures += flooded.failed;
                seen.flood_not_ok += flooded.not_ok;
                seen.samples.push(controller.sample());
            }
            next_flood = Instant::now() + settings.flood_every;
        }
        if now >= next_report {
            let s = seen.samples.last().unwrap();
            let cycles = controller.cycles.lock().unwrap().len();
            eprintln!(
                "{:>5.0}s: {cycles} cycles, RSS {}, {} fds",
                s.at,
                mb(s.rss_kb),
                s.fds
            );
            next_report = now + Duration::from_secs(60);
        }
    }
    seen
}

/// Whether the account matches the manifest: `plan --exit-code` exits 0.
fn converged(settings: &Settings, sim: &Simulator, manifest: &std::path::Path) -> bool {
    let plan = Command::new(&settings.bin)
        .env_clear()
        .env("CLOUDFLARE_API_BASE_URL", sim.base_url())
        .env("CLOUDFLARE_ACCOUNT_ID", sim.account_id())
        .env("CLOUDFLARE_API_TOKEN", sim.token())
        .args(["plan", "--quiet", "--exit-code", "-f"])
        .arg(manifest)
        .output()
        .unwrap();
    plan.status.code() == Some(0)
}

#[tokio::main]
async fn main() {
    let settings = Settings::from_args();
    let account = synthetic(Shape {
        apps: 300,
        servers: 10,
        foreign_policies: 20,
        missing_apps: 0,
        double_apps: 30,
    });
    let config = SimConfig {
        rate_limit: Some(RateLimit {
            requests: 6000,
            window: Duration::from_secs(60),
        }),
        ..SimConfig::default()
    };
    let sim = Simulator::start(config, account.seed.clone())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("access.yaml");
    std::fs::write(&manifest, &account.manifest).unwrap();
    sim.set_faults(
        settings
            .faults
            .parse()
            .expect("--faults: a simulator fault spec"),
    );

    let controller = Controller::start(&settings, &sim, &manifest);
    let title = format!(
        "`run --interval {}` for {:.0} min, {} apps / {} links, faults `{}`",
        settings.interval,
        settings.minutes,
        account.seed.apps.len(),
        account.links,
        settings.faults,
    );
    eprintln!("soak: {} {title}", settings.bin.display());
    let mut seen = soak(&settings, &sim, &controller).await;

    // Quiet period: no drift, no faults; the account must converge.
    sim.set_faults(Faults::default());
    let quiet_from = controller.started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(5)).await;
    seen.samples.push(controller.sample());
    let converged = converged(&settings, &sim, &manifest);
    let cycles = controller.stop();
    let writes = sim.writes();
    sim.shutdown().await;
    let cycles: Vec<Cycle> = cycles.into_iter().filter(|c| c.at < quiet_from).collect();
    report(&title, settings.flood, &seen, &cycles, &writes, converged);
}

/// Prints the Markdown table.
fn report(
    title: &str,
    flood_size: usize,
    seen: &Observed,
    cycles: &[Cycle],
    writes: &[JournalEntry],
    converged: bool,
) {
    let ok = cycles.iter().filter(|c| c.ok).count();
    let mut failures: BTreeMap<&str, usize> = BTreeMap::new();
    for c in cycles.iter().filter(|c| !c.ok) {
        *failures.entry(c.result.as_str()).or_default() += 1;
    }
    let mut write_kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for w in writes {
        let kind = match (w.path.contains("/access/apps/"), w.method.as_str()) {
            (true, _) => "app PUT",
            (false, "POST") => "policy POST",
            (false, "PUT") => "policy PUT",
            _ => "policy DELETE",
        };
        *write_kinds.entry(kind).or_default() += 1;
    }
    let samples = &seen.samples;
    // The first minute is warm-up (allocator arenas, connection pool, first reads).
    let warm = samples
        .iter()
        .find(|s| s.at >= 60.0)
        .copied()
        .unwrap_or(samples[0]);
    let last = *samples.last().unwrap();
    let after_warm: Vec<&Sample> = samples.iter().filter(|s| s.at >= warm.at).collect();
    let max_rss = after_warm.iter().map(|s| s.rss_kb).max().unwrap_or(0);
    let max_fds = after_warm.iter().map(|s| s.fds).max().unwrap_or(0);
    let rss_slope = slope_per_hour(
        &after_warm
            .iter()
            .map(|s| (s.at, s.rss_kb as f64 / 1024.0))
            .collect::<Vec<_>>(),
    );
    // The first flood grows the allocator's arenas once; the last two thirds show
    // whether anything keeps growing.
    let third = last.at / 3.0;
    let late_rss_slope = slope_per_hour(
        &samples
            .iter()
            .filter(|s| s.at >= third)
            .map(|s| (s.at, s.rss_kb as f64 / 1024.0))
            .collect::<Vec<_>>(),
    );
    let fd_slope = slope_per_hour(
        &after_warm
            .iter()
            .map(|s| (s.at, s.fds as f64))
            .collect::<Vec<_>>(),
    );
    let mut latencies = seen.latencies.clone();
    latencies.sort();
    let in_flood = |c: &&Cycle| {
        seen.floods
            .iter()
            .any(|(from, to)| c.at >= *from && c.at <= *to + 2.0)
    };
    let (n_flood, mean_flood, max_flood) = durations(cycles.iter().filter(in_flood));
    let (n_calm, mean_calm, max_calm) = durations(cycles.iter().filter(|c| !in_flood(c)));

    println!("| soak: {title} | |");
    println!("|---|---|");
    println!(
        "| cycles | {} ({ok} succeeded; failed: {failures:?}) |",
        cycles.len()
    );
    println!("| drift injected | {:?} |", seen.drifts);
    println!("| writes (repairs) | {} {write_kinds:?} |", writes.len());
    println!(
        "| converged once drift and faults stopped | {} |",
        if converged {
            "yes (`plan --exit-code`: no changes)"
        } else {
            "NO"
        }
    );
    println!(
        "| RSS after 1 min / end / max | {} / {} / {} (trend: {rss_slope:+.2} MB/h; over the last two thirds: {late_rss_slope:+.2} MB/h) |",
        mb(warm.rss_kb),
        mb(last.rss_kb),
        mb(max_rss)
    );
    println!(
        "| open fds after 1 min / end / max | {} / {} / {max_fds} (trend: {fd_slope:+.2}/h) |",
        warm.fds, last.fds
    );
    println!(
        "| ops floods | {} × {flood_size} concurrent requests (one connection each): {} answered ({} of them `/healthz` 503 during a long cycle), {} failed |",
        seen.floods.len(),
        latencies.len(),
        seen.flood_not_ok,
        seen.flood_failures
    );
    println!(
        "| ops latency p50 / p99 / max | {} / {} / {} |",
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 99.0)),
        ms(latencies.last().copied().unwrap_or_default())
    );
    println!(
        "| reconcile duration mean / max: during floods ({n_flood} cycles) vs the rest ({n_calm}) | {mean_flood:.0} / {max_flood:.0} ms vs {mean_calm:.0} / {max_calm:.0} ms |"
    );
}
