//! `mcp-access run` against the simulator: drift repair, manifest reload, invalid
//! manifests, metrics, backoff and recovery (through the library API with a short
//! interval), and graceful shutdown on signals (through the binary).

use std::net::SocketAddr;
use std::time::Duration;

use mcp_access::controller::Controller;
use mcp_access::controller::server::{HEADER_READ_TIMEOUT, MAX_CONNECTIONS};
use mcp_access::sim::{Faults, Seed, SimConfig, Simulator};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

// The controller harness (a running controller, `eventually`, strict scrapes) is
// shared with tests/operating.rs and tests/monitoring.rs.
#[path = "common/controller.rs"]
mod harness;

use harness::{
    DEMO, Running, Scrape, api, eventually, managed_policies, options, server_policy, within,
    write_manifest,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_introduced_in_the_account_is_repaired_on_the_next_tick() {
    within(async {
        let run = Running::start(DEMO, |_| {}).await;
        run.wait_ready().await;
        let both = vec![
            server_policy("mcp-server-app"),
            server_policy("support-mcp"),
        ];
        assert_eq!(run.managed_on("Company wiki"), both);
        let attached = run
            .metric("mcp_access_changes_applied_total{action=\"attach\"}")
            .await;
        assert!((attached - 4.0).abs() < f64::EPSILON, "{attached}");

        run.detach_managed("Company wiki");
        assert!(run.managed_on("Company wiki").is_empty());
        eventually("the wiki links both managed policies again", || async {
            run.managed_on("Company wiki") == both
        })
        .await;
        eventually("the repair is counted", || async {
            run.metric("mcp_access_changes_applied_total{action=\"attach\"}")
                .await
                >= 6.0
        })
        .await;
        // Repaired with app PUTs only: no policy was created again.
        assert_eq!(managed_policies(&run.sim).len(), 2);
        run.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_edited_on_disk_takes_effect_without_a_restart() {
    within(async {
        let before = "
owner: platform
servers:
  - app: mcp-server-app
    downstream: [Internal API]
";
        let after = "
owner: platform
servers:
  - app: support-mcp
    downstream: [Company wiki]
";
        let run = Running::start(before, |_| {}).await;
        run.wait_ready().await;
        assert_eq!(
            run.managed_on("Internal API"),
            [server_policy("mcp-server-app")]
        );
        assert!(run.managed_on("Company wiki").is_empty());

        run.edit_manifest(after);
        eventually("the new manifest is applied", || async {
            run.managed_on("Company wiki") == [server_policy("support-mcp")]
                && run.managed_on("Internal API").is_empty()
        })
        .await;
        eventually("the dropped server's policy is deleted", || async {
            managed_policies(&run.sim)
                .iter()
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
                == [server_policy("support-mcp")]
        })
        .await;
        run.wait_ready().await;
        run.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_manifest_turns_readyz_503_and_applies_nothing_while_healthz_stays_200() {
    within(async {
        let run = Running::start(DEMO, |_| {}).await;
        run.wait_ready().await;
        let broken_yaml = "owner: platform\nservers: [ { app: mcp-server-app,\n";
        let unknown_app = "
owner: platform
servers:
  - app: mcp-server-app
    downstream: [No such app]
";
        for invalid in [broken_yaml, unknown_app] {
            let errors_before = run
                .metric("mcp_access_reconcile_total{result=\"manifest_error\"}")
                .await;
            run.edit_manifest(invalid);
            eventually("readyz turns 503", || async {
                run.status("/readyz").await == 503
            })
            .await;
            let (_, why) = run.get("/readyz").await;
            assert!(why.contains("manifest is invalid"), "{why}");
            // Drift made now must stay: nothing is applied on an invalid manifest.
            run.sim.clear_journal();
            run.detach_managed("Company wiki");
            eventually("several ticks fail on the manifest", || async {
                run.metric("mcp_access_reconcile_total{result=\"manifest_error\"}")
                    .await
                    >= errors_before + 3.0
            })
            .await;
            assert_eq!(run.sim.writes(), [], "nothing may be written");
            assert!(run.managed_on("Company wiki").is_empty());
            assert_eq!(run.status("/healthz").await, 200);
            assert_eq!(run.status("/readyz").await, 503);
            let scrape = run.metrics().await;
            assert!(scrape.value("mcp_access_manifest_valid") == 0.0);
            assert!(scrape.value("mcp_access_consecutive_failures") >= 3.0);

            run.edit_manifest(DEMO);
            run.wait_ready().await;
            assert_eq!(run.managed_on("Company wiki").len(), 2);
            assert!((run.metric("mcp_access_manifest_valid").await - 1.0).abs() < f64::EPSILON);
        }
        run.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_scrape_parse_and_follow_what_the_controller_does() {
    within(async {
        let run = Running::start(DEMO, |_| {}).await;
        run.wait_ready().await;
        let first = run.metrics().await;
        for (name, kind) in [
            ("mcp_access_reconcile_total", "counter"),
            ("mcp_access_reconcile_duration_seconds", "histogram"),
            ("mcp_access_last_success_timestamp_seconds", "gauge"),
            ("mcp_access_changes_applied_total", "counter"),
            ("mcp_access_pending_changes", "gauge"),
            ("mcp_access_managed_links", "gauge"),
            ("mcp_access_unmanaged_grants", "gauge"),
            ("mcp_access_api_requests_total", "counter"),
            ("mcp_access_api_retries_total", "counter"),
            ("mcp_access_consecutive_failures", "gauge"),
            ("mcp_access_build_info", "gauge"),
        ] {
            assert_eq!(
                first.types.get(name).map(String::as_str),
                Some(kind),
                "{name}"
            );
        }
        let build = format!(
            "mcp_access_build_info{{version=\"{}\"}}",
            env!("CARGO_PKG_VERSION")
        );
        assert!((first.value(&build) - 1.0).abs() < f64::EPSILON);
        // The first reconcile created 2 policies and 4 links.
        assert!((first.value("mcp_access_changes_applied_total{action=\"create\"}") - 2.0).abs() < f64::EPSILON);
        assert!((first.value("mcp_access_changes_applied_total{action=\"attach\"}") - 4.0).abs() < f64::EPSILON);
        assert!(
            (first.value(
                "mcp_access_api_requests_total{method=\"POST\",endpoint=\"policies\",status=\"201\"}"
            ) - 2.0)
                .abs()
                < f64::EPSILON
        );
        assert!(
            first.value("mcp_access_api_requests_total{method=\"GET\",endpoint=\"apps\",status=\"200\"}")
                >= 1.0
        );
        assert!((first.value("mcp_access_managed_links") - 4.0).abs() < f64::EPSILON);
        // The demo account's `Legacy CI token grant`, and its hand-made grant for
        // support-mcp (not adopted: this controller runs without --adopt).
        assert!((first.value("mcp_access_unmanaged_grants") - 2.0).abs() < f64::EPSILON);
        assert!(first.value("mcp_access_consecutive_failures") == 0.0);
        let successes = first.value("mcp_access_reconcile_total{result=\"success\"}");
        assert!(successes >= 1.0);
        assert!(first.value("mcp_access_reconcile_duration_seconds_count") >= successes);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let last = first.value("mcp_access_last_success_timestamp_seconds");
        assert!(last > now - 60.0 && last <= now + 1.0, "{last} vs {now}");

        // Later ticks: more successes, a newer timestamp, no drift.
        eventually("two more reconciles", || async {
            run.metric("mcp_access_reconcile_total{result=\"success\"}").await >= successes + 2.0
        })
        .await;
        let later = run.metrics().await;
        assert!(later.value("mcp_access_last_success_timestamp_seconds") > last);
        for cause in ["manifest", "membership"] {
            let series = format!("mcp_access_pending_changes{{cause=\"{cause}\"}}");
            assert!(later.samples.contains_key(&series), "no {series}");
            assert!(later.value(&series) == 0.0);
        }

        // A hand edit of a managed policy: drift found, an update applied.
        let policy = managed_policies(&run.sim)[0]["id"].as_str().unwrap().to_owned();
        run.sim.edit_policy(&policy, |p| {
            p.insert("decision".into(), serde_json::json!("bypass"));
        });
        eventually("the policy is put back and counted", || async {
            run.metric("mcp_access_changes_applied_total{action=\"update\"}").await >= 1.0
        })
        .await;
        assert_eq!(run.sim.policy(&policy).unwrap()["decision"], "non_identity");
        run.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_back_off_exponentially_up_to_the_interval_then_the_schedule_resumes() {
    within(Box::pin(async {
        let sim = Simulator::start(SimConfig::default(), Seed::demo())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.yaml");
        write_manifest(&path, DEMO);
        let mut opts = options(path);
        opts.interval = Duration::from_secs(1);
        opts.backoff_base = Duration::from_millis(100);
        let mut controller = Controller::new(opts, api(&sim), None);
        let cancel = CancellationToken::new();
        assert!(controller.reconcile_once(&cancel).await.result.is_ok());

        sim.set_faults(Faults {
            error_rate: 1.0,
            ..Faults::default()
        });
        let mut waits = Vec::new();
        for _ in 0..6 {
            let tick = controller.reconcile_once(&cancel).await;
            assert!(
                matches!(tick.result, Err(mcp_access::Error::Api(_))),
                "{:?}",
                tick.result
            );
            waits.push(tick.requeue_after.as_millis());
        }
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);

        sim.set_faults(Faults::default());
        let tick = controller.reconcile_once(&cancel).await;
        assert!(tick.result.is_ok());
        assert_eq!(tick.requeue_after, Duration::from_secs(1));
        let scrape = Scrape::parse(&controller.state().metrics.encode());
        assert!(scrape.value("mcp_access_consecutive_failures") == 0.0);
        assert!(
            (scrape.value("mcp_access_reconcile_total{result=\"api_error\"}") - 6.0).abs()
                < f64::EPSILON
        );
        sim.shutdown().await;
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_going_down_and_coming_back_shows_backoff_then_recovery_in_metrics() {
    within(async {
        let run = Running::start(DEMO, |o| {
            o.interval = Duration::from_secs(1);
            o.backoff_base = Duration::from_millis(100);
            o.api_retry_deadline = Duration::from_millis(700);
        })
        .await;
        run.wait_ready().await;
        let successes = run
            .metric("mcp_access_reconcile_total{result=\"success\"}")
            .await;

        run.sim.set_faults(Faults {
            error_rate: 1.0,
            ..Faults::default()
        });
        eventually("failures pile up", || async {
            run.metric("mcp_access_consecutive_failures").await >= 3.0
        })
        .await;
        assert_eq!(run.status("/readyz").await, 503);
        assert_eq!(run.status("/healthz").await, 200);
        let down = run.metrics().await;
        let server_errors: f64 = down
            .samples
            .iter()
            .filter(|(k, _)| {
                k.starts_with("mcp_access_api_requests_total{")
                    && ["500", "502", "503"]
                        .iter()
                        .any(|s| k.contains(&format!("status=\"{s}\"")))
            })
            .map(|(_, v)| v)
            .sum();
        assert!(server_errors >= 3.0, "{server_errors}");
        assert!(down.value("mcp_access_api_retries_total") >= 1.0);
        assert!(down.value("mcp_access_reconcile_total{result=\"api_error\"}") >= 3.0);

        run.sim.set_faults(Faults::default());
        eventually("recovered", || async {
            run.metric("mcp_access_consecutive_failures").await == 0.0
        })
        .await;
        run.wait_ready().await;
        let up = run.metrics().await;
        assert!(up.value("mcp_access_reconcile_total{result=\"success\"}") > successes);
        run.stop().await;
    })
    .await;
}

/// The binary under test, as a child that is killed if the test fails.
#[cfg(unix)]
mod binary {
    use std::io::{BufRead, BufReader};
    use std::process::{Child, Command, ExitStatus, Stdio};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use mcp_access::sim::Simulator;

    pub struct Process {
        child: Child,
        stderr: Arc<Mutex<Vec<String>>>,
    }

    impl Process {
        pub fn run(sim: &Simulator, manifest: &std::path::Path, extra: &[&str]) -> Self {
            // MCP_ACCESS_BIN: when worktrees share a target dir, the uplifted binary
            // may be another checkout's; point this at the right one.
            let bin = std::env::var("MCP_ACCESS_BIN")
                .unwrap_or_else(|_| env!("CARGO_BIN_EXE_mcp-access").to_owned());
            let mut child = Command::new(bin)
                .env_clear()
                .env("CLOUDFLARE_API_BASE_URL", sim.base_url())
                .env("CLOUDFLARE_ACCOUNT_ID", sim.account_id())
                .env("CLOUDFLARE_API_TOKEN", sim.token())
                .env("NO_COLOR", "1")
                .args(["run", "--log-format", "json", "--listen", "127.0.0.1:0"])
                .args(["--interval", "1h", "-f"])
                .arg(manifest)
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let stderr = Arc::new(Mutex::new(Vec::new()));
            let pipe = child.stderr.take().unwrap();
            let lines = Arc::clone(&stderr);
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
            Self { child, stderr }
        }

        pub fn logs(&self) -> Vec<String> {
            self.stderr.lock().unwrap().clone()
        }

        pub fn signal(&self, name: &str) {
            let status = Command::new("kill")
                .arg(format!("-{name}"))
                .arg(self.child.id().to_string())
                .status()
                .unwrap();
            assert!(status.success());
        }

        /// The ops server's address, from its "listening" log line.
        pub fn ops_addr(&self) -> Option<std::net::SocketAddr> {
            self.logs().iter().find_map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).ok()?;
                if !v["fields"]["message"]
                    .as_str()?
                    .contains("ops server listening")
                {
                    return None;
                }
                v["fields"]["addr"].as_str()?.parse().ok()
            })
        }

        /// How many file descriptors the process has open (Linux).
        pub fn open_fds(&self) -> usize {
            std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
                .unwrap()
                .count()
        }

        /// Waits up to `limit` for the exit.
        pub async fn exit_within(&mut self, limit: Duration) -> Option<ExitStatus> {
            let deadline = tokio::time::Instant::now() + limit;
            loop {
                if let Some(status) = self.child.try_wait().unwrap() {
                    return Some(status);
                }
                if tokio::time::Instant::now() >= deadline {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    impl Drop for Process {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_an_apply_finishes_the_writes_in_flight_and_exits_0() {
    within(async {
        let sim = Simulator::start(SimConfig::default(), Seed::demo())
            .await
            .unwrap();
        sim.set_faults(Faults {
            latency: Duration::from_millis(300),
            ..Faults::default()
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.yaml");
        write_manifest(&path, DEMO);
        let mut process = binary::Process::run(&sim, &path, &[]);

        // The policies are created first; the app changes start right after.
        eventually("the apply has begun", || async {
            sim.writes().iter().any(|w| w.method == "POST")
        })
        .await;
        process.signal("TERM");
        let status = process
            .exit_within(Duration::from_secs(10))
            .await
            .expect("exits within the grace period");
        assert_eq!(status.code(), Some(0), "{:#?}", process.logs());

        // Every request finished with an answer: nothing was cut off mid-flight.
        let journal = sim.journal();
        assert!(
            journal.iter().all(|e| (200..300).contains(&e.status)),
            "{journal:#?}"
        );
        // Each app read-modify-write that began was completed by its PUT.
        let app_gets = journal
            .iter()
            .filter(|e| e.method == "GET" && e.path.contains("/access/apps/"))
            .count();
        let app_puts = journal.iter().filter(|e| e.method == "PUT").count();
        assert_eq!(app_gets, app_puts, "{journal:#?}");
        // The stop happened mid-run: not every app was changed.
        let logs = process.logs();
        assert!(
            logs.iter().any(|l| l.contains("\"result\":\"cancelled\"")),
            "{logs:#?}"
        );
        assert!(logs.iter().any(|l| l.contains("SIGTERM")), "{logs:#?}");
        let token = sim.token().to_owned();
        assert!(logs.iter().all(|l| !l.contains(&token)), "token leaked");
        for line in &logs {
            serde_json::from_str::<Value>(line)
                .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        }

        // Consistent: no app links a missing policy, exactly one policy per server, and
        // the next reconcile finishes the job without creating anything again.
        let ids: Vec<String> = sim
            .policies()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect();
        for app in sim.apps() {
            for link in app["policies"].as_array().unwrap() {
                assert!(ids.iter().any(|id| link["id"] == id.as_str()), "{app}");
            }
        }
        assert_eq!(managed_policies(&sim).len(), 2);
        sim.set_faults(Faults::default());
        sim.clear_journal();
        let mut once = binary::Process::run(&sim, &path, &["--once"]);
        let status = once.exit_within(Duration::from_secs(20)).await.unwrap();
        assert_eq!(status.code(), Some(0), "{:#?}", once.logs());
        assert!(sim.writes().iter().all(|w| w.method != "POST"));
        assert_eq!(managed_policies(&sim).len(), 2);
        sim.shutdown().await;
    })
    .await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_exits_at_once() {
    within(async {
        let sim = Simulator::start(SimConfig::default(), Seed::demo())
            .await
            .unwrap();
        // Reads so slow that the first signal has to wait for them.
        sim.set_faults(Faults {
            latency: Duration::from_secs(20),
            ..Faults::default()
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.yaml");
        write_manifest(&path, DEMO);
        let mut process = binary::Process::run(&sim, &path, &[]);
        eventually(
            "the ops server is up (handlers are installed before)",
            || async {
                process
                    .logs()
                    .iter()
                    .any(|l| l.contains("ops server listening"))
            },
        )
        .await;
        process.signal("TERM");
        assert!(
            process
                .exit_within(Duration::from_millis(500))
                .await
                .is_none(),
            "the first signal waits for the reconcile in flight"
        );
        process.signal("INT");
        let status = process
            .exit_within(Duration::from_secs(3))
            .await
            .expect("the second signal exits at once");
        assert_eq!(status.code(), Some(130));
        sim.shutdown().await;
    })
    .await;
}

/// Connections to the ops port that send part of a request head and then nothing.
#[cfg(unix)]
async fn half_open(addr: SocketAddr, n: usize) -> Vec<tokio::net::TcpStream> {
    use tokio::io::AsyncWriteExt;
    let mut streams = Vec::with_capacity(n);
    for _ in 0..n {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: ops\r\n")
            .await
            .unwrap();
        streams.push(stream);
    }
    streams
}

/// Waits (up to `limit`) until the server closes `stream`.
#[cfg(unix)]
async fn closed_within(stream: &mut tokio::net::TcpStream, limit: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ops_server_caps_connections_and_drops_clients_that_never_finish_a_request() {
    within(async {
        let sim = Simulator::start(SimConfig::default(), Seed::demo())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.yaml");
        write_manifest(&path, DEMO);
        let process = binary::Process::run(&sim, &path, &[]);
        eventually("the ops server is up", || async { process.ops_addr().is_some() }).await;
        let addr = process.ops_addr().unwrap();
        let before = process.open_fds();

        // More half-open connections than the limit: the extra ones wait in the
        // kernel's accept queue and cost the process nothing.
        let mut streams = half_open(addr, MAX_CONNECTIONS + 100).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let during = process.open_fds();
        assert!(
            during <= before + MAX_CONNECTIONS + 8,
            "{during} fds open with {} half-open connections (limit {MAX_CONNECTIONS}, {before} before)",
            streams.len()
        );

        // Each is closed for not sending its request head in time: the first batch after
        // the header-read timeout, the queued ones one timeout later.
        for stream in &mut streams {
            assert!(
                closed_within(stream, HEADER_READ_TIMEOUT * 3).await,
                "a half-open connection stayed open"
            );
        }
        drop(streams);
        let http = reqwest::Client::new();
        let status = http
            .get(format!("http://{addr}/healthz"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
        sim.shutdown().await;
    })
    .await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_half_open_ops_connections_and_exits_within_the_grace_period() {
    within(async {
        let sim = Simulator::start(SimConfig::default(), Seed::demo())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.yaml");
        write_manifest(&path, DEMO);
        let mut process = binary::Process::run(&sim, &path, &["--grace-period", "2s"]);
        eventually("the first reconcile is done", || async {
            process
                .logs()
                .iter()
                .any(|l| l.contains("reconcile finished"))
        })
        .await;
        let addr = process.ops_addr().unwrap();
        let mut streams = half_open(addr, 50).await;
        // And idle ones that sent nothing.
        for _ in 0..20 {
            streams.push(tokio::net::TcpStream::connect(addr).await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;

        let signalled = std::time::Instant::now();
        process.signal("TERM");
        // Well under the header-read timeout: the stop, not the timeout, closes them.
        let status = process
            .exit_within(Duration::from_secs(4))
            .await
            .unwrap_or_else(|| {
                panic!(
                    "still running {:?} after SIGTERM with half-open ops connections",
                    signalled.elapsed()
                )
            });
        assert_eq!(status.code(), Some(0), "{:#?}", process.logs());
        for stream in &mut streams {
            assert!(closed_within(stream, Duration::from_secs(1)).await);
        }
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_with_adopt_takes_the_hand_made_grant_over_and_counts_it() {
    within(async {
        let run = Running::start(DEMO, |o| o.adopt = true).await;
        run.wait_ready().await;
        let hand_made = "f1a2b3c4-0005-4000-8000-00000000a005";
        assert_eq!(
            run.sim.policy(hand_made).unwrap()["name"],
            "[mcp-access:platform] MCP server support-mcp"
        );
        let scrape = run.metrics().await;
        assert!(
            (scrape.value("mcp_access_changes_applied_total{action=\"adopt\"}") - 1.0).abs()
                < f64::EPSILON
        );
        // One policy created (mcp-server-app), not two: support-mcp's is the adopted one.
        assert!(
            (scrape.value("mcp_access_changes_applied_total{action=\"create\"}") - 1.0).abs()
                < f64::EPSILON
        );
        // Only the CI grant is left unmanaged.
        assert!((scrape.value("mcp_access_unmanaged_grants") - 1.0).abs() < f64::EPSILON);
        run.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_the_reconciles_and_who_can_reach_what_read_only() {
    within(async {
        let run = Running::start(DEMO, |_| {}).await;
        run.wait_ready().await;
        let (status, body) = run.get("/status.json").await;
        assert_eq!(status, 200);
        let doc: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(doc["mode"], "heal");
        assert_eq!(doc["owner"], "platform");
        assert_eq!(doc["account_id"], run.sim.account_id());
        assert_eq!(doc["ready"]["ok"], true);
        // The first reconcile repaired the demo account; the runs are newest first.
        let runs = doc["reconciles"].as_array().unwrap();
        let first = runs.last().unwrap();
        assert_eq!(first["result"], "success");
        assert_eq!(first["drift"], 6);
        assert_eq!(first["changes"]["created"], 2);
        assert_eq!(first["changes"]["attached"], 4);
        assert!(doc["pending"].is_null() && doc["matched_at"].is_string());
        // Who can reach what: the demo's four declared links and ci-bot's hand-made
        // grant, by name.
        let data = &doc["access"]["data"];
        assert_eq!(data["counts"]["pairs"], 5);
        assert_eq!(data["counts"]["undeclared"], 1);
        assert!(data["apps"].to_string().contains("Billing dashboard"));
        assert!(!body.contains(run.sim.token()));

        let response = run
            .http
            .get(format!("http://{}/", run.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(header("content-type"), "text/html; charset=utf-8");
        assert_eq!(header("cache-control"), "no-store");
        let csp = header("content-security-policy");
        assert!(
            csp.starts_with("default-src 'none';") && !csp.contains("unsafe"),
            "{csp}"
        );
        let page = response.text().await.unwrap();
        assert!(page.contains("<h2 id=\"runs-h\">Last reconciles</h2>"));
        assert!(page.contains("created 2, attached 4"));
        assert!(page.contains("ci-bot → Billing dashboard</a>: granted"));

        // Read-only: nothing but GET (and HEAD).
        for path in ["/", "/status.json"] {
            let post = run
                .http
                .post(format!("http://{}{path}", run.addr))
                .send()
                .await
                .unwrap();
            assert_eq!(post.status(), 405, "POST {path}");
        }
        run.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_plan_is_the_pending_drift_on_the_status_page() {
    within(async {
        let run = Running::start(DEMO, |_| {}).await;
        run.wait_ready().await;
        run.edit_manifest("owner: platform\nservers: []\n");
        eventually("the emptied manifest is refused", || async {
            let doc: Value = serde_json::from_str(&run.get("/status.json").await.1).unwrap();
            doc["reconciles"][0]["result"] == "refused"
        })
        .await;
        let doc: Value = serde_json::from_str(&run.get("/status.json").await.1).unwrap();
        let last = &doc["reconciles"][0];
        assert_eq!(last["changes"]["deleted"], 0, "{last:#}");
        assert!(
            last["error"]
                .as_str()
                .unwrap()
                .starts_with("Refusing to apply")
        );
        let pending = &doc["pending"];
        assert!(
            pending["why"]
                .as_str()
                .unwrap()
                .starts_with("Refusing to apply"),
            "{pending:#}"
        );
        assert_eq!(pending["changes"], last["drift"]);
        assert!(
            pending["plan"].as_str().unwrap().contains("delete"),
            "{pending:#}"
        );
        let page = run.get("/").await.1;
        assert!(page.contains("found at") && page.contains("not applied: Refusing to apply"));
        run.stop().await;
    })
    .await;
}
