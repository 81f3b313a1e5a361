//! Never act on a bad read (issue 11): the binary against a simulator that misbehaves
//! on purpose, one test per row of the table. Each shows zero wrong writes,
//! bounded time (and memory, for the huge body) and a clear error.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{cli, manifest_file};
use mcp_access::sim::{Misbehaviour, Seed, SimConfig, Simulator};
use serde_json::Value;

/// The demo manifest: two servers, four links.
const DEMO: &str = include_str!("../examples/demo.yaml");

/// Runs the binary with `args` and the manifest, returns (exit code, stdout + stderr).
fn run(sim: &Simulator, args: &[&str], manifest: &str) -> (i32, String, Duration) {
    let file = manifest_file(manifest);
    let started = Instant::now();
    let out = cli(sim)
        .args(args)
        .arg("-f")
        .arg(file.path())
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text, started.elapsed())
}

/// A demo account, converged with the demo manifest (adopting its hand-made grant), with
/// small page caps so that every list spans pages: 9 apps at 2 a page (the last page
/// short), 6 policies at 2 a page (the last page full). The journal is cleared.
async fn converged() -> Simulator {
    let config = SimConfig {
        apps_page_cap: 2,
        policies_page_cap: 2,
        ..SimConfig::default()
    };
    let sim = Simulator::start(config, Seed::demo()).await.unwrap();
    let (code, out, _) = tokio::task::block_in_place(|| run(&sim, &["reconcile", "--adopt"], DEMO));
    assert_eq!(code, 0, "{out}");
    assert_eq!(sim.policies().len(), 6);
    sim.clear_journal();
    sim
}

fn misbehave(spec: &str) -> Misbehaviour {
    spec.parse().unwrap()
}

/// Reconciles the demo manifest against `sim` misbehaving as `spec`.
fn reconcile_under(sim: &Simulator, spec: &str, extra: &[&str]) -> (i32, String, Duration) {
    sim.set_misbehaviour(misbehave(spec));
    let mut args = vec!["reconcile"];
    args.extend_from_slice(extra);
    tokio::task::block_in_place(|| run(sim, &args, DEMO))
}

fn gets_of(sim: &Simulator, list: &str) -> usize {
    sim.journal()
        .iter()
        .filter(|e| e.method == "GET" && e.path.ends_with(list))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_last_page_is_an_inconsistency_not_more_policies() {
    let sim = converged().await;
    let (code, out, _) = reconcile_under(&sim, "repeat-last-page=policies", &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("listed twice"), "{out}");
    assert!(out.contains("nothing was written"), "{out}");
    assert!(sim.writes().is_empty(), "{:#?}", sim.writes());
    // Read twice (the re-read), each walk stopping at the repeated page.
    assert!(
        gets_of(&sim, "/access/policies") <= 8,
        "{:#?}",
        sim.journal()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_understated_total_is_read_past() {
    let sim = converged().await;
    let (code, out, _) = reconcile_under(&sim, "understate-total=policies", &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("No changes"), "{out}");
    assert!(sim.writes().is_empty(), "{:#?}", sim.writes());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_null_or_object_result_is_an_error_not_an_empty_list() {
    let sim = converged().await;
    for (spec, needle) in [
        ("null-result=policies", "result: null"),
        ("object-result=policies", "JSON array"),
        ("null-result=apps", "result: null"),
    ] {
        let (code, out, _) = reconcile_under(&sim, spec, &[]);
        assert_eq!(code, 1, "{spec}: {out}");
        assert!(out.contains(needle), "{spec}: {out}");
        assert!(sim.writes().is_empty(), "{spec}: {:#?}", sim.writes());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn endless_new_ids_stop_at_the_item_bound() {
    // Default page size and the default bound: 20,000 items, then a clear error.
    let config = SimConfig::default();
    let sim = Simulator::start(config, Seed::demo()).await.unwrap();
    let (code, out, elapsed) = reconcile_under(&sim, "endless=policies", &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("--max-list-items 20000"), "{out}");
    assert!(sim.writes().is_empty());
    assert!(
        gets_of(&sim, "/access/policies") <= 25,
        "{}",
        gets_of(&sim, "/access/policies")
    );
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");

    // A smaller bound from the flag, with small pages: the page bound follows.
    let sim = converged().await;
    let (code, out, _) = reconcile_under(&sim, "endless=apps", &["--max-list-items", "30"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("--max-list-items 30"), "{out}");
    assert!(sim.writes().is_empty());
    assert!(
        gets_of(&sim, "/access/apps") <= 17,
        "{}",
        gets_of(&sim, "/access/apps")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_absurd_total_is_refused_at_once() {
    let sim = converged().await;
    let (code, out, elapsed) = reconcile_under(&sim, "total=policies:1000000000", &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("the API reports 1000000000 items, more than --max-list-items 20000"),
        "{out}"
    );
    assert!(sim.writes().is_empty());
    assert_eq!(gets_of(&sim, "/access/policies"), 1);
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
}

/// Runs the binary like [`run`], watching its peak resident set (`VmHWM`) while it
/// runs. Returns (exit code, output, peak RSS in bytes as last seen).
fn run_watching_memory(sim: &Simulator, args: &[&str], manifest: &str) -> (i32, String, u64) {
    let file = manifest_file(manifest);
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("mcp-access"));
    cmd.env_clear()
        .env("CLOUDFLARE_API_BASE_URL", sim.base_url())
        .env("CLOUDFLARE_ACCOUNT_ID", sim.account_id())
        .env("CLOUDFLARE_API_TOKEN", sim.token())
        .env("NO_COLOR", "1")
        .args(args)
        .arg("-f")
        .arg(file.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        let hwm = std::fs::read_to_string(&status)
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .unwrap_or(0);
        peak = peak.max(hwm * 1024);
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "still running"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text, peak)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_one_gib_body_is_cut_at_the_cap_in_bounded_memory() {
    let sim = converged().await;
    sim.set_misbehaviour(misbehave("huge-body=apps:1GiB"));
    let started = Instant::now();
    let (code, out, peak) =
        tokio::task::block_in_place(|| run_watching_memory(&sim, &["reconcile"], DEMO));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("the response is larger than 64 MiB (--max-response-size)"),
        "{out}"
    );
    assert!(sim.writes().is_empty());
    assert!(started.elapsed() < Duration::from_secs(60));
    // 64 MiB read, then dropped: far from the 1 GiB sent.
    assert!(peak < 256 << 20, "peak RSS {} MiB", peak >> 20);
    assert!(peak > 0, "the peak was seen");

    // A smaller cap from the flag.
    let (code, out, _) = reconcile_under(
        &sim,
        "huge-body=apps:1GiB",
        &["--max-response-size", "1MiB"],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("larger than 1 MiB"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_body_is_retried_loudly_then_given_up() {
    let sim = converged().await;
    let (code, out, elapsed) = reconcile_under(
        &sim,
        "stall-body=apps",
        &["--read-timeout", "1s", "--retry-deadline", "4s"],
    );
    assert_eq!(code, 1, "{out}");
    // Said at the default verbosity, while it happens.
    assert!(out.contains("retrying GET /accounts/"), "{out}");
    assert!(out.contains("the response stalled"), "{out}");
    assert!(out.contains("gave up after"), "{out}");
    assert!(sim.writes().is_empty());
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn apps_page_one_repeated_as_page_two_is_never_no_changes() {
    let sim = converged().await;
    // The manifest drops a link: a detach is due, on an app a lying list may hide.
    let fewer = DEMO.replace("      - Internal API\n", "");
    assert_ne!(fewer, DEMO);
    sim.set_misbehaviour(misbehave("page-as=apps:2:1"));
    let (code, out, _) = tokio::task::block_in_place(|| run(&sim, &["reconcile"], &fewer));
    assert_eq!(code, 1, "{out}");
    assert!(!out.contains("No changes"), "{out}");
    assert!(out.contains("listed twice"), "{out}");
    assert!(sim.writes().is_empty(), "{:#?}", sim.writes());

    // Once the list is honest, the detach happens.
    sim.set_misbehaviour(Misbehaviour::default());
    let (code, out, _) = tokio::task::block_in_place(|| run(&sim, &["reconcile"], &fewer));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("detach"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_zero_never_loops_hot_and_the_deadline_ends_it() {
    let sim = converged().await;
    let (code, out, elapsed) = reconcile_under(&sim, "always-429=0", &["--retry-deadline", "10s"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("HTTP 429"), "{out}");
    assert!(out.contains("gave up after"), "{out}");
    // At least 1 s, then 2, 4, ... between tries: a handful of requests, not hundreds.
    let requests = sim.journal().len();
    assert!(requests <= 16, "{requests} requests: {:#?}", sim.journal());
    assert!(elapsed < Duration::from_secs(40), "{elapsed:?}");
    assert!(elapsed >= Duration::from_secs(3), "waited: {elapsed:?}");
    assert!(sim.writes().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_quoting_the_authorization_header_never_leaks_the_token() {
    let sim = converged().await;
    let token = sim.token().to_owned();
    for extra in [
        &[][..],
        &["-vv"][..],
        &["-o", "json"][..],
        &["--log-format", "json", "-v"][..],
    ] {
        let (code, out, _) = reconcile_under(&sim, "echo-auth", extra);
        assert_eq!(code, 1, "{out}");
        assert!(
            out.contains("Authorization: Bearer [redacted]"),
            "{extra:?}: {out}"
        );
        assert!(!out.contains(&token), "token leaked with {extra:?}: {out}");
    }
    assert!(sim.writes().is_empty());
}

/// A listener that counts the connections it gets and answers none.
fn counting_listener() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            seen.fetch_add(1, Ordering::SeqCst);
            let mut stream = stream;
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
        }
    });
    (url, count)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_on_a_write_is_never_followed() {
    let (elsewhere, hits) = counting_listener();
    for status in [307, 308] {
        // A fresh account, so the reconcile has writes to make.
        let sim = Simulator::start(SimConfig::default(), Seed::demo())
            .await
            .unwrap();
        let (code, out, _) =
            reconcile_under(&sim, &format!("redirect-writes={status}:{elsewhere}"), &[]);
        assert_eq!(code, 1, "{out}");
        assert!(
            out.contains(&format!(
                "HTTP {status} redirect to {elsewhere}/client/v4/accounts/"
            )),
            "{out}"
        );
        assert!(out.contains("not followed"), "{out}");
        // The POSTs were refused with the redirect; nothing reached the other host.
        assert!(
            sim.writes()
                .iter()
                .all(|w| w.status == u16::try_from(status).unwrap())
        );
        let demo = Seed::demo();
        assert!(sim.policies().len() == demo.policies.len() && sim.apps().len() == demo.apps.len());
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "a body went to the Location"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_page_size_falls_back_and_is_remembered() {
    let sim = Simulator::start(SimConfig::default(), Seed::demo())
        .await
        .unwrap();
    sim.set_misbehaviour(misbehave("max-per-page=50"));
    let (code, out, _) = tokio::task::block_in_place(|| run(&sim, &["reconcile"], DEMO));
    assert_eq!(code, 0, "{out}");
    let per_page: BTreeMap<(String, u16), usize> = sim
        .journal()
        .iter()
        .filter(|e| e.method == "GET" && e.path.ends_with("/access/apps"))
        .fold(BTreeMap::new(), |mut m, e| {
            let size = e
                .query
                .as_deref()
                .unwrap_or_default()
                .split('&')
                .find_map(|kv| kv.strip_prefix("per_page="))
                .unwrap_or_default()
                .to_owned();
            *m.entry((size, e.status)).or_default() += 1;
            m
        });
    // 1000 and 100 refused once each; every later read asks for 50 at once.
    assert_eq!(
        per_page.get(&("1000".into(), 400)),
        Some(&1),
        "{per_page:?}"
    );
    assert_eq!(per_page.get(&("100".into(), 400)), Some(&1), "{per_page:?}");
    assert!(
        per_page.get(&("50".into(), 200)).is_some_and(|&n| n >= 2),
        "{per_page:?}"
    );
    assert_eq!(per_page.len(), 3, "{per_page:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_page_with_an_honest_total_is_caught() {
    let sim = converged().await;
    let (code, out, _) = reconcile_under(&sim, "drop-page=policies:2", &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("total_count 6, but only 4 distinct items"),
        "{out}"
    );
    assert!(sim.writes().is_empty());
}

/// The simulator's account as the list endpoints would show it honestly.
fn state(sim: &Simulator) -> Value {
    serde_json::json!({"apps": sim.apps(), "policies": sim.policies()})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_list_that_shifts_once_is_read_again_and_trusted() {
    // Page 2 answers with page 1's items only on the first read: the re-read is clean.
    let sim = converged().await;
    let before = state(&sim);
    sim.set_misbehaviour(misbehave("page-as=policies:2:1"));
    let file = manifest_file(DEMO);
    let path = file.path().to_owned();
    let child = tokio::task::spawn_blocking({
        let mut cmd = cli(&sim);
        cmd.args(["plan", "-f"]).arg(path);
        move || cmd.output().unwrap()
    });
    // Heal the list as soon as the first inconsistent walk is done.
    let deadline = Instant::now() + Duration::from_secs(30);
    while gets_of(&sim, "/access/policies") < 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    sim.set_misbehaviour(Misbehaviour::default());
    let out = child.await.unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Either the heal came in time (the re-read is clean: "No changes"), or both
    // walks saw the shift (an error): never a plan built on the bad read.
    if out.status.success() {
        assert!(
            text.contains("reading it again") && text.contains("No changes"),
            "{text}"
        );
    } else {
        assert!(text.contains("listed twice"), "{text}");
    }
    assert_eq!(state(&sim), before);
}
