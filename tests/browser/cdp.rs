//! A small Chrome DevTools Protocol client for the browser tests: it starts headless
//! Chromium on a fresh profile, talks to one page over the DevTools WebSocket, and
//! offers what the tests need (navigate, evaluate, keys, screenshots, the requests the
//! page made).
//!
//! When Chromium is missing or cannot start, [`Browser::start_or_skip`] skips the test
//! and says so past the test harness's output capture, so a plain `cargo test` on a
//! laptop without Chromium shows the skip instead of passing quietly. With
//! `MCP_ACCESS_BROWSER_TESTS=require` (`.ci/run` sets it once Chromium is installed) a
//! missing browser fails the test.

use std::io::ErrorKind;
use std::net::TcpStream;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

/// How long any one step may take on a loaded 2-core machine.
const STEP: Duration = Duration::from_secs(60);

/// A headless Chromium with one page attached.
pub struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    ws: WebSocket<TcpStream>,
    session: String,
    next_id: u64,
    /// Every event received so far, in order.
    events: Vec<Value>,
}

/// The Chromium binary: `MCP_ACCESS_CHROMIUM`, else the first of the usual names on
/// the PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("MCP_ACCESS_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
    .find(|candidate| candidate.is_file())
}

impl Browser {
    /// Starts Chromium, or returns `None` after saying loudly that the test is skipped;
    /// with `MCP_ACCESS_BROWSER_TESTS=require`, a missing browser fails the test.
    pub fn start_or_skip(test: &str) -> Option<Browser> {
        match Browser::start() {
            Ok(browser) => Some(browser),
            Err(why) => {
                assert!(
                    std::env::var("MCP_ACCESS_BROWSER_TESTS").as_deref() != Ok("require"),
                    "browser test {test} needs Chromium (MCP_ACCESS_BROWSER_TESTS=require): {why}. Install it (Debian: apt-get install chromium), or set MCP_ACCESS_CHROMIUM to its path"
                );
                // Straight to the process's stderr: `eprintln!` is captured by the test
                // harness and shown only for a failing test.
                let _ = std::io::Write::write_all(
                    &mut std::io::stderr(),
                    format!(
                        "\nSKIPPED browser test {test}: {why}\n  (apt-get install chromium, or MCP_ACCESS_CHROMIUM=<path>; MCP_ACCESS_BROWSER_TESTS=require makes this a failure)\n"
                    )
                    .as_bytes(),
                );
                None
            }
        }
    }

    /// Starts headless Chromium with a fresh profile, every background network feature
    /// off, and a 1400×1000 window; attaches to a blank page.
    pub fn start() -> Result<Browser, String> {
        let binary =
            chromium().ok_or("no chromium, chromium-browser or google-chrome on the PATH")?;
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut child = Command::new(&binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-dev-shm-usage",
                "--remote-debugging-port=0",
                "--window-size=1400,1000",
                "--force-device-scale-factor=1",
                "--lang=en-US",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so a stuck browser and its helpers can be ended
            // together without touching anything else.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let endpoint = match wait_for_endpoint(profile.path(), &mut child) {
            Ok(endpoint) => endpoint,
            Err(e) => {
                end_group(&mut child);
                return Err(e);
            }
        };
        let (port, path) = endpoint;
        let connect = || -> Result<WebSocket<TcpStream>, String> {
            let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
            stream
                .set_read_timeout(Some(STEP))
                .map_err(|e| e.to_string())?;
            let (ws, _) = tungstenite::client(format!("ws://127.0.0.1:{port}{path}"), stream)
                .map_err(|e| format!("DevTools handshake: {e}"))?;
            // Short reads from now on, so a wait can check its deadline.
            ws.get_ref()
                .set_read_timeout(Some(Duration::from_millis(200)))
                .map_err(|e| e.to_string())?;
            Ok(ws)
        };
        let ws = match connect() {
            Ok(ws) => ws,
            Err(e) => {
                end_group(&mut child);
                return Err(e);
            }
        };
        let mut browser = Browser {
            child,
            _profile: profile,
            ws,
            session: String::new(),
            next_id: 0,
            events: Vec::new(),
        };
        let target = browser.browser_call("Target.createTarget", json!({"url": "about:blank"}))?;
        let target_id = target["targetId"].as_str().ok_or("no targetId")?.to_owned();
        let attached = browser.browser_call(
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        )?;
        attached["sessionId"]
            .as_str()
            .ok_or("no sessionId")?
            .clone_into(&mut browser.session);
        for domain in ["Page.enable", "Runtime.enable", "Network.enable"] {
            browser.call(domain, json!({}))?;
        }
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": false}),
        )?;
        Ok(browser)
    }

    fn send(&mut self, method: &str, params: Value, session: bool) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method});
        message["params"] = params;
        if session {
            message["sessionId"] = json!(self.session);
        }
        self.ws
            .send(Message::text(message.to_string()))
            .map_err(|e| format!("{method}: {e}"))?;
        let deadline = Instant::now() + STEP;
        loop {
            let reply = self.receive(deadline, method)?;
            if reply["id"] == json!(id) {
                if let Some(error) = reply.get("error") {
                    return Err(format!("{method}: {error}"));
                }
                return Ok(reply["result"].clone());
            }
        }
    }

    /// The next message; events are kept in [`Browser::events`] on the way.
    fn receive(&mut self, deadline: Instant, waiting_for: &str) -> Result<Value, String> {
        loop {
            if Instant::now() > deadline {
                return Err(format!(
                    "no answer from Chromium to {waiting_for} in {STEP:?}"
                ));
            }
            match self.ws.read() {
                Ok(Message::Text(text)) => {
                    let value: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
                    if value.get("method").is_some() {
                        self.events.push(value.clone());
                    }
                    return Ok(value);
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => return Err(format!("DevTools connection: {e}")),
            }
        }
    }

    fn browser_call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.send(method, params, false)
    }

    /// Calls a method on the page.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.send(method, params, true)
    }

    /// Opens `url` and waits for its load event.
    pub fn navigate(&mut self, url: &str) {
        let seen = self.events.len();
        self.call("Page.navigate", json!({"url": url})).unwrap();
        let deadline = Instant::now() + STEP;
        while !self.events[seen..]
            .iter()
            .any(|e| e["method"] == "Page.loadEventFired")
        {
            self.receive(deadline, "Page.loadEventFired").unwrap();
        }
    }

    /// The value of a JavaScript expression (promises awaited); panics on an exception.
    pub fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .unwrap();
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("{expression}: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// Waits until `condition` (a JavaScript expression) is true.
    pub fn wait_for(&mut self, condition: &str) {
        let deadline = Instant::now() + STEP;
        while self.eval(condition) != json!(true) {
            assert!(Instant::now() < deadline, "never true: {condition}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What a person reads on the page: the visible text of the element `selector`
    /// (`innerText` leaves out what is hidden).
    pub fn text(&mut self, selector: &str) -> String {
        let expr = format!(
            "(() => {{ const e = document.querySelector({}); return e ? e.innerText : null; }})()",
            json!(selector)
        );
        match self.eval(&expr) {
            Value::String(s) => s,
            other => panic!("{selector}: no such element ({other})"),
        }
    }

    /// Presses and releases a key (`ArrowDown`, `Enter`, `Tab`, ...) on the focused
    /// element.
    pub fn key(&mut self, key: &str) {
        let (code, text) = match key {
            "ArrowLeft" => (37, ""),
            "ArrowUp" => (38, ""),
            "ArrowRight" => (39, ""),
            "ArrowDown" => (40, ""),
            "Enter" => (13, "\r"),
            "Tab" => (9, ""),
            "Home" => (36, ""),
            "End" => (35, ""),
            "PageUp" => (33, ""),
            "PageDown" => (34, ""),
            "Escape" => (27, ""),
            " " => (32, " "),
            other => panic!("no key code for {other}"),
        };
        let mut down = json!({"type": if text.is_empty() { "rawKeyDown" } else { "keyDown" },
            "key": key, "code": if key == " " { "Space" } else { key }, "windowsVirtualKeyCode": code});
        if !text.is_empty() {
            down["text"] = json!(text);
        }
        self.call("Input.dispatchKeyEvent", down).unwrap();
        self.call(
            "Input.dispatchKeyEvent",
            json!({"type": "keyUp", "key": key, "code": if key == " " { "Space" } else { key }, "windowsVirtualKeyCode": code}),
        )
        .unwrap();
    }

    /// Types `text` into the focused element, as an input method would.
    pub fn type_text(&mut self, text: &str) {
        self.call("Input.insertText", json!({"text": text}))
            .unwrap();
    }

    /// Saves a PNG of the page: the viewport, or with `full`, the whole page.
    pub fn screenshot(&mut self, path: &Path, full: bool) {
        let shot = self
            .call(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": full}),
            )
            .unwrap();
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }

    /// The URL of every request the page made since it started.
    pub fn requests(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| e["method"] == "Network.requestWillBeSent")
            .filter_map(|e| e["params"]["request"]["url"].as_str().map(str::to_owned))
            .collect()
    }

    /// Messages the page logged to its console, and exceptions it threw.
    pub fn console_errors(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e["method"].as_str() {
                Some("Runtime.exceptionThrown") => {
                    Some(e["params"]["exceptionDetails"].to_string())
                }
                Some("Runtime.consoleAPICalled") if e["params"]["type"] == "error" => {
                    Some(e["params"]["args"].to_string())
                }
                _ => None,
            })
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.send("Browser.close", json!({}), false);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        end_group(&mut self.child);
    }
}

/// Ends the browser's process group (the browser and its helper processes only).
fn end_group(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

/// The DevTools port and browser path Chromium writes to `DevToolsActivePort` in its
/// profile once it listens.
fn wait_for_endpoint(profile: &Path, child: &mut Child) -> Result<(u16, String), String> {
    let file = profile.join("DevToolsActivePort");
    let deadline = Instant::now() + STEP;
    loop {
        if let Ok(text) = std::fs::read_to_string(&file) {
            let mut lines = text.lines();
            if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                let port = port
                    .trim()
                    .parse()
                    .map_err(|e| format!("DevToolsActivePort: {e}"))?;
                return Ok((port, path.trim().to_owned()));
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("Chromium exited at start-up ({status})"));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "Chromium did not open its DevTools port in {STEP:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
