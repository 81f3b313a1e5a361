//! The HTML report (`check --output html`) and the controller's status page, in a real
//! browser: headless Chromium driven over the DevTools protocol (`browser/cdp.rs`),
//! against the demo account and a 1,000-server synthetic account. The tests assert on
//! what a person sees (visible text, what a key press does, contrast), and keep a
//! screenshot of each page in `target/browser-tests/`.
//!
//! Without Chromium each says loudly that it skipped (on stderr, past the harness's
//! capture); with `MCP_ACCESS_BROWSER_TESTS=require`, as `.ci/run` sets it, it fails. `MCP_ACCESS_UPDATE_SCREENSHOTS=1` also copies the
//! screenshots the docs show into `docs/images/`.
#![cfg(unix)]

mod browser {
    pub mod cdp;
}
mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use browser::cdp::Browser;
use mcp_access::sim::synthetic::{Shape, synthetic};
use mcp_access::sim::{Seed, SimConfig, Simulator};
use serde_json::{Value, json};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const DEMO: &str = include_str!("../examples/demo.yaml");

const CI_BOT: &str = "0d5c8f7e-0008-4000-8000-0000000000a8";
const MCP_SERVER: &str = "0d5c8f7e-0001-4000-8000-0000000000a1";

/// Where the screenshots and pages of a run are kept: `target/browser-tests/`.
fn artefacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("browser-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Saves a screenshot as an artefact, and into the docs when asked to.
fn keep_screenshot(browser: &mut Browser, name: &str, docs_image: Option<&str>) {
    let path = artefacts().join(name);
    browser.screenshot(&path, true);
    eprintln!("screenshot: {}", path.display());
    if let Some(image) = docs_image
        && std::env::var("MCP_ACCESS_UPDATE_SCREENSHOTS").as_deref() == Ok("1")
    {
        let target = Path::new(ROOT).join("docs/images").join(image);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&path, &target).unwrap();
        eprintln!("docs image updated: {}", target.display());
    }
}

/// The demo account with two hand-made policies: one on the wiki that lets `ci-bot`
/// in for @example.com users only (an undeclared grant that depends on the request),
/// and one on the Internal API for bots, whose exclude rule always rejects `ci-bot`
/// (a blocked pair).
fn demo_seed() -> Seed {
    let mut seed = Seed::demo();
    let employees = "f1a2b3c4-00e1-4000-8000-0000000000e1";
    let bots = "f1a2b3c4-00e2-4000-8000-0000000000e2";
    seed.policies.push(json!({
        "id": employees, "name": "Employees via CI", "decision": "non_identity",
        "include": [{"linked_app_token": {"app_uid": CI_BOT}}], "exclude": [],
        "require": [{"email_domain": {"domain": "example.com"}}], "reusable": true,
    }));
    seed.policies.push(json!({
        "id": bots, "name": "Bots, except ci-bot", "decision": "non_identity",
        "include": [{"linked_app_token": {"app_uid": CI_BOT}}, {"linked_app_token": {"app_uid": MCP_SERVER}}],
        "exclude": [{"linked_app_token": {"app_uid": CI_BOT}}], "require": [], "reusable": true,
    }));
    attach(&mut seed, "Company wiki", employees);
    attach(&mut seed, "Internal API", bots);
    seed
}

fn attach(seed: &mut Seed, app_name: &str, policy: &str) {
    let app = seed
        .apps
        .iter_mut()
        .find(|a| a["name"] == app_name || a["id"] == app_name)
        .unwrap();
    let links = app["policies"].as_array_mut().unwrap();
    let precedence = links.len() + 1;
    links.push(json!({"id": policy, "precedence": precedence}));
}

/// A simulator on its own runtime, alive as long as this value.
struct Account {
    sim: Option<Simulator>,
    runtime: tokio::runtime::Runtime,
}

impl Account {
    fn start(seed: Seed) -> Self {
        Self::start_with_token(seed, &SimConfig::default().token)
    }

    fn start_with_token(seed: Seed, token: &str) -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let config = SimConfig {
            token: token.to_owned(),
            ..SimConfig::default()
        };
        let sim = runtime.block_on(Simulator::start(config, seed)).unwrap();
        Self {
            sim: Some(sim),
            runtime,
        }
    }

    fn sim(&self) -> &Simulator {
        self.sim.as_ref().unwrap()
    }

    /// Runs the binary against the account; panics unless it exits 0.
    fn run(&self, args: &[&str]) -> Vec<u8> {
        let output = common::cli(self.sim())
            .args(args)
            .timeout(Duration::from_secs(300))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "mcp-access {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    }
}

impl Drop for Account {
    fn drop(&mut self) {
        if let Some(sim) = self.sim.take() {
            self.runtime.block_on(sim.shutdown());
        }
    }
}

/// Writes the check report of `manifest` as an artefact and returns its path.
fn html_report(account: &Account, manifest: &Path, name: &str) -> PathBuf {
    let html = account.run(&["check", "-f", manifest.to_str().unwrap(), "-o", "html"]);
    let path = artefacts().join(name);
    std::fs::write(&path, html).unwrap();
    path
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// Every element with visible text whose contrast against its background is below
/// WCAG AA (4.5:1; 3:1 for large text), as `text: ratio`. The background is the first
/// opaque one up the tree.
const CONTRAST_FAILURES: &str = r"(() => {
  const rgb = s => (s.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const bg = el => {
    for (; el; el = el.parentElement) {
      const s = getComputedStyle(el);
      const c = rgb(s.backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] === 1)) return c;
    }
    return [255, 255, 255];
  };
  const bad = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el || el.closest('.sr, script, style, noscript')) continue;
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || !el.checkVisibility()) continue;
    const s = getComputedStyle(el);
    const fg = rgb(s.color), back = bg(el);
    const a = lum(fg), b = lum(back);
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight, 10) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < need) bad.push(n.textContent.trim().slice(0, 40) + ': ' + ratio.toFixed(2));
  }
  return bad;
})()";

/// The names in the matrix's row headers, as shown.
fn matrix_rows(browser: &mut Browser) -> Vec<String> {
    let rows = browser
        .eval("Array.from(document.querySelectorAll('#matrix tbody th')).map(th => th.innerText)");
    serde_json::from_value(rows).unwrap()
}

/// Focuses the matrix's tabbable cell and moves with the arrow keys to the cell of
/// `server` and `app` (by the headers' names), as a keyboard user does.
fn go_to_cell(browser: &mut Browser, server: &str, app: &str) {
    let target = browser.eval(&format!(
        "(() => {{
            const r = Array.from(document.querySelectorAll('#matrix tbody th')).find(th => th.innerText === {server});
            const c = Array.from(document.querySelectorAll('#matrix thead th[data-c]')).find(th => th.title.startsWith({app} + ' ('));
            return [Number(r.dataset.r), Number(c.dataset.c)];
        }})()",
        server = json!(server),
        app = json!(app)
    ));
    let (row, col) = (target[0].as_i64().unwrap(), target[1].as_i64().unwrap());
    browser.eval("document.querySelector('#matrix [tabindex=\"0\"]').focus()");
    let at = browser.eval(
        "[Number(document.activeElement.dataset.r), Number(document.activeElement.dataset.c)]",
    );
    let (mut r, mut c) = (at[0].as_i64().unwrap(), at[1].as_i64().unwrap());
    while r < row {
        browser.key("ArrowDown");
        r += 1;
    }
    while r > row {
        browser.key("ArrowUp");
        r -= 1;
    }
    while c < col {
        browser.key("ArrowRight");
        c += 1;
    }
    while c > col {
        browser.key("ArrowLeft");
        c -= 1;
    }
    let focused = browser.eval("document.activeElement.title");
    assert!(
        focused
            .as_str()
            .unwrap_or_default()
            .starts_with(&format!("{server} → {app}:")),
        "keyboard focus is on {focused}"
    );
}

/// What every page must hold to: it asked for nothing over the network (only its own
/// file or address), threw nothing, and every visible text passes WCAG AA contrast.
fn assert_self_contained_and_readable(browser: &mut Browser, own: &str) {
    let foreign: Vec<String> = browser
        .requests()
        .into_iter()
        .filter(|url| !url.starts_with(own) && url != "about:blank")
        .collect();
    assert!(foreign.is_empty(), "the page fetched {foreign:?}");
    assert!(
        browser.console_errors().is_empty(),
        "{:?}",
        browser.console_errors()
    );
    let failures = browser.eval(CONTRAST_FAILURES);
    assert_eq!(failures, json!([]), "text below WCAG AA contrast");
}

#[test]
fn the_report_of_the_demo_account_in_a_browser() {
    let Some(mut browser) = Browser::start_or_skip("the_report_of_the_demo_account_in_a_browser")
    else {
        return;
    };
    let account = Account::start(demo_seed());
    let manifest = common::manifest_file(DEMO);
    let manifest_path = manifest.path().to_str().unwrap();
    account.run(&["reconcile", "-f", manifest_path]);
    let plan: Value =
        serde_json::from_slice(&account.run(&["plan", "-f", manifest_path, "-o", "json"])).unwrap();
    let report = html_report(&account, manifest.path(), "demo-report.html");
    let url = file_url(&report);
    browser.navigate(&url);
    browser.wait_for("performance.getEntriesByName('mcp-access:drawn').length === 1");

    // When, from which account, and the manifest's digest.
    let header = browser.text("header");
    assert!(header.contains(account.sim().account_id()), "{header}");
    let digest = plan["manifest_digest"].as_str().unwrap();
    assert!(header.contains(digest), "{header} lacks {digest}");
    assert!(header.contains("Generated"), "{header}");

    // The summary names the undeclared grants first, with the policy behind each.
    let summary = browser.text(".summary");
    let undeclared = summary.find("Undeclared grants (2)").expect(&summary);
    assert!(
        undeclared < summary.find("Blocked (1)").unwrap(),
        "{summary}"
    );
    assert!(
        summary.contains(
            "ci-bot → Billing dashboard: granted via “Legacy CI token grant” (unmanaged)"
        ),
        "{summary}"
    );
    assert!(
        summary.contains(
            "ci-bot → Company wiki: depends on the request via “Employees via CI” (unmanaged)"
        ),
        "{summary}"
    );

    // The matrix: one row per MCP server.
    assert_eq!(
        matrix_rows(&mut browser),
        ["ci-bot", "mcp-server-app", "support-mcp"]
    );
    assert_self_contained_and_readable(&mut browser, &url);

    // A blocked cell, reached with the keyboard, shows its exclude rule.
    go_to_cell(&mut browser, "ci-bot", "Internal API");
    browser.key("Enter");
    let details = browser.text("#details");
    assert!(details.contains("ci-bot → Internal API"), "{details}");
    assert!(details.contains("blocked"), "{details}");
    assert!(
        details.contains(&format!(
            "exclude linked_app_token {CI_BOT} (ci-bot): blocks the token"
        )),
        "{details}"
    );
    assert_eq!(
        browser.eval("location.hash"),
        json!(format!(
            "#pair={CI_BOT}%3E0d5c8f7e-0004-4000-8000-0000000000a4"
        ))
    );
    keep_screenshot(&mut browser, "demo-report.png", Some("check-report.png"));

    // Filtering to one server hides the others, in the matrix and in the list.
    browser.eval("document.getElementById('f-server').focus()");
    browser.type_text("mcp-server-app");
    browser.wait_for("document.querySelectorAll('#matrix tbody th').length === 1");
    assert_eq!(matrix_rows(&mut browser), ["mcp-server-app"]);
    let matrix = browser.text("#view-matrix");
    assert!(
        !matrix.contains("ci-bot") && !matrix.contains("support-mcp"),
        "{matrix}"
    );
    assert!(browser.text("#shown").starts_with("Showing 2 of 7 pairs"));
    browser.eval("document.getElementById('tab-list').click()");
    let listed = browser.eval(
        "Array.from(document.querySelectorAll('#list tbody tr')).map(tr => tr.cells[0].innerText + ' → ' + tr.cells[1].innerText)",
    );
    assert_eq!(
        listed,
        json!([
            "mcp-server-app → Company wiki",
            "mcp-server-app → Internal API"
        ])
    );

    // The graph draws the same pairs; arrows move between the tabs.
    browser.eval("document.getElementById('f-server').value = ''; document.querySelector('form.filters').requestSubmit()");
    browser.eval("document.getElementById('tab-list').focus()");
    browser.key("ArrowRight");
    browser.wait_for("!document.getElementById('view-graph').hidden");
    assert_eq!(
        browser.eval("document.querySelectorAll('#graph-content path.edge').length"),
        json!(7)
    );
    let graph = browser.eval("document.getElementById('graph-content').textContent");
    assert!(graph.as_str().unwrap().contains("undeclared"), "{graph}");
    keep_screenshot(&mut browser, "demo-report-graph.png", None);
}

#[test]
fn names_in_the_report_are_text_never_markup() {
    let Some(mut browser) = Browser::start_or_skip("names_in_the_report_are_text_never_markup")
    else {
        return;
    };
    let mut seed = Seed::demo();
    let hostile = "<img src=x onerror=\"window.__pwned=1\">";
    for app in &mut seed.apps {
        if app["id"] == CI_BOT {
            app["name"] = json!(hostile);
        }
    }
    for policy in &mut seed.policies {
        if policy["name"] == "Legacy CI token grant" {
            policy["name"] = json!("</script><script>window.__pwned=2</script>");
        }
    }
    let account = Account::start(seed);
    let manifest = common::manifest_file(DEMO);
    let report = html_report(&account, manifest.path(), "hostile-names.html");
    let url = file_url(&report);
    browser.navigate(&url);
    browser.wait_for("performance.getEntriesByName('mcp-access:drawn').length === 1");
    browser.eval("document.getElementById('tab-list').click()");
    browser.eval("document.getElementById('tab-graph').click()");
    assert_eq!(browser.eval("typeof window.__pwned"), json!("undefined"));
    assert!(browser.text(".summary").contains(hostile));
    assert!(
        browser
            .text(".summary")
            .contains("</script><script>window.__pwned=2</script>")
    );
    assert_self_contained_and_readable(&mut browser, &url);
}

/// The synthetic account of the benchmarks, 1,000 MCP servers and 10,000 apps they
/// call, plus a hand-made grant nobody declared and a bot policy that excludes one
/// server.
fn large_seed() -> (Seed, String) {
    let mut s = synthetic(Shape {
        apps: 11_000,
        servers: 1_000,
        foreign_policies: 100,
        missing_apps: 20,
        double_apps: 2_000,
    });
    let server = |i: usize| format!("a0000000-0000-4000-8000-{i:012}");
    let shadow = "c0000000-0000-4000-8000-000000000001";
    let bots = "c0000000-0000-4000-8000-000000000002";
    s.seed.policies.push(json!({
        "id": shadow, "name": "Shadow grant", "decision": "non_identity",
        "include": [{"linked_app_token": {"app_uid": server(7)}}], "exclude": [], "require": [],
    }));
    s.seed.policies.push(json!({
        "id": bots, "name": "Bots, except server-7", "decision": "non_identity",
        "include": [{"linked_app_token": {"app_uid": server(7)}}, {"linked_app_token": {"app_uid": server(8)}}],
        "exclude": [{"linked_app_token": {"app_uid": server(7)}}], "require": [],
    }));
    attach(&mut s.seed, &server(10_999), shadow);
    attach(&mut s.seed, &server(10_998), bots);
    (s.seed, s.manifest)
}

#[test]
fn the_report_of_a_1000_server_account_stays_light_and_responsive() {
    let Some(mut browser) =
        Browser::start_or_skip("the_report_of_a_1000_server_account_stays_light_and_responsive")
    else {
        return;
    };
    let (seed, manifest_text) = large_seed();
    let account = Account::start(seed);
    let manifest = common::manifest_file(&manifest_text);
    let report = html_report(&account, manifest.path(), "large-report.html");
    let size = std::fs::metadata(&report).unwrap().len();
    eprintln!("report of 1,000 servers x 10,000 apps: {size} bytes");
    assert!(size < 5_000_000, "{size} bytes");

    let url = file_url(&report);
    let started = Instant::now();
    browser.navigate(&url);
    browser.wait_for("performance.getEntriesByName('mcp-access:drawn').length === 1");
    let drawn_ms = browser.eval("performance.getEntriesByName('mcp-access:drawn')[0].startTime");
    eprintln!(
        "drawn {drawn_ms} ms after navigation start ({:?} wall, including load)",
        started.elapsed()
    );
    assert!(
        browser
            .text("#shown")
            .contains("1000 MCP servers × 10000 apps")
    );
    // Only what is on screen exists: a few thousand elements, not ten million cells.
    let elements = browser.eval("document.getElementsByTagName('*').length");
    assert!(elements.as_u64().unwrap() < 5_000, "{elements} elements");

    // Scrolling to the far corner draws the last server's row; each redraw is quick.
    let redraw_ms = browser.eval(
        "new Promise(done => {
            const s = document.getElementById('matrix-scroll');
            const t = performance.now();
            s.scrollTop = s.scrollHeight; s.scrollLeft = s.scrollWidth;
            requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t)));
        })",
    );
    eprintln!("scroll to the corner and redraw: {redraw_ms} ms");
    let rows = matrix_rows(&mut browser);
    assert_eq!(
        rows.last().map(String::as_str),
        Some("server-999"),
        "{rows:?}"
    );
    assert!(
        browser
            .eval("document.getElementsByTagName('*').length")
            .as_u64()
            .unwrap()
            < 5_000
    );

    // The summary names the undeclared grants: the shadow grant, and the bot policy's
    // for server-8 (its exclude rule names another server's token).
    let summary = browser.text(".summary");
    assert!(summary.contains("Undeclared grants (2)"), "{summary}");
    assert!(
        summary.contains("server-7 → app-10999: granted via “Shadow grant” (unmanaged)"),
        "{summary}"
    );
    assert_self_contained_and_readable(&mut browser, &url);
    keep_screenshot(&mut browser, "large-report.png", None);

    // Filtering to one server hides the other 999.
    browser.eval("document.getElementById('f-server').focus()");
    browser.type_text("server-7");
    browser.wait_for("document.querySelectorAll('#matrix tbody th').length === 1");
    assert_eq!(matrix_rows(&mut browser), ["server-7"]);
    assert!(browser.text("#shown").starts_with("Showing "));

    // Its blocked cell shows the exclude rule.
    go_to_cell(&mut browser, "server-7", "app-10998");
    browser.key(" ");
    let details = browser.text("#details");
    assert!(
        details.contains("exclude linked_app_token a0000000-0000-4000-8000-000000000007 (server-7): blocks the token"),
        "{details}"
    );
    keep_screenshot(&mut browser, "large-report-filtered.png", None);
}

/// `mcp-access run` on a free port; its address is read from its log.
struct Controller {
    child: Child,
    addr: String,
}

impl Controller {
    fn start(account: &Account, manifest: &Path) -> Self {
        let sim = account.sim();
        let mut child = Command::new(env!("CARGO_BIN_EXE_mcp-access"))
            .env_clear()
            .env("CLOUDFLARE_API_BASE_URL", sim.base_url())
            .env("CLOUDFLARE_ACCOUNT_ID", sim.account_id())
            .env("CLOUDFLARE_API_TOKEN", sim.token())
            .env("NO_COLOR", "1")
            .env("MCP_ACCESS_LOG", "info")
            .args(["run", "-f", manifest.to_str().unwrap()])
            .args(["--listen", "127.0.0.1:0", "--interval", "1h"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if let Some(at) = line.find("addr=") {
                    let addr: String = line[at + 5..]
                        .chars()
                        .take_while(|c| !c.is_whitespace())
                        .collect();
                    let _ = tx.send(addr);
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("the controller logs its ops address");
        Self { child, addr }
    }

    fn get(&self, path: &str) -> (u16, String) {
        let url = format!("http://{}{path}", self.addr);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let response = reqwest::get(&url).await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        })
    }

    /// Waits for the first reconcile to finish.
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(240);
        while self.get("/readyz").0 != 200 {
            assert!(
                Instant::now() < deadline,
                "not ready: {}",
                self.get("/readyz").1
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_status_page_of_a_running_controller() {
    let Some(mut browser) = Browser::start_or_skip("the_status_page_of_a_running_controller")
    else {
        return;
    };
    let account = Account::start(demo_seed());
    let manifest = common::manifest_file(DEMO);
    let controller = Controller::start(&account, manifest.path());
    controller.wait_ready();

    let (status, json_text) = controller.get("/status.json");
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&json_text).unwrap();
    assert_eq!(doc["mode"], "heal");
    let last = &doc["reconciles"][0];
    assert_eq!(last["result"], "success", "{doc:#}");
    assert!(!json_text.contains(account.sim().token()));

    let url = format!("http://{}/", controller.addr);
    browser.navigate(&url);
    browser.wait_for("performance.getEntriesByName('mcp-access:drawn').length === 1");
    let page = browser.text("main");
    assert!(
        page.contains("Mode\nheal") || page.contains("Mode heal") || page.contains("heal"),
        "{page}"
    );
    let runs = browser.text("#reconciles");
    assert!(runs.contains("success"), "{runs}");
    assert!(
        runs.contains("created 2"),
        "the first reconcile's changes: {runs}"
    );
    assert!(browser.text(".summary").contains("Undeclared grants (2)"));
    assert_eq!(
        matrix_rows(&mut browser),
        ["ci-bot", "mcp-server-app", "support-mcp"]
    );
    assert_self_contained_and_readable(&mut browser, &url);
    keep_screenshot(&mut browser, "status-page.png", Some("status-page.png"));
}

#[test]
fn the_status_page_of_a_controller_over_1000_servers() {
    let Some(mut browser) =
        Browser::start_or_skip("the_status_page_of_a_controller_over_1000_servers")
    else {
        return;
    };
    let (mut seed, manifest_text) = large_seed();
    // A name that holds the token: the page must not.
    let token = "sim-token-that-must-not-show";
    seed.apps[2_000]["name"] = json!(format!("app-2000 {token}"));
    let account = Account::start_with_token(seed, token);
    let manifest = common::manifest_file(&manifest_text);
    let controller = Controller::start(&account, manifest.path());
    controller.wait_ready();

    let (_, json_text) = controller.get("/status.json");
    let doc: Value = serde_json::from_str(&json_text).unwrap();
    let last = &doc["reconciles"][0];
    assert_eq!(last["result"], "success", "{last:#}");
    assert_eq!(
        last["changes"]["attached"], 40,
        "the missing links: {last:#}"
    );
    assert!(!json_text.contains(token));
    assert!(json_text.contains("app-2000 [redacted]"));

    let url = format!("http://{}/", controller.addr);
    browser.navigate(&url);
    browser.wait_for("performance.getEntriesByName('mcp-access:drawn').length === 1");
    let runs = browser.text("#reconciles");
    assert!(
        runs.contains("success") && runs.contains("attached 40"),
        "{runs}"
    );
    assert!(
        browser
            .text("#shown")
            .contains("1000 MCP servers × 10000 apps")
    );
    assert!(
        browser
            .text(".summary")
            .contains("server-7 → app-10999: granted via “Shadow grant”")
    );
    assert!(
        browser
            .eval("document.getElementsByTagName('*').length")
            .as_u64()
            .unwrap()
            < 5_000
    );
    let html = browser.eval("document.documentElement.outerHTML");
    assert!(!html.as_str().unwrap().contains(token));

    browser.eval("document.getElementById('f-server').focus()");
    browser.type_text("server-7");
    browser.wait_for("document.querySelectorAll('#matrix tbody th').length === 1");
    assert_eq!(matrix_rows(&mut browser), ["server-7"]);
    assert_self_contained_and_readable(&mut browser, &url);
    keep_screenshot(&mut browser, "large-status-page.png", None);
}
