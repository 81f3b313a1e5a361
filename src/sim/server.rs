//! The HTTP face of the simulator: routing, envelopes, auth, pagination, rate limiting,
//! injected faults and the request journal.
//!
//! One fallback handler routes by hand, so that every request (known route or not, any
//! method) goes through the same pipeline, in this order:
//!
//! 1. fault dice are rolled; `latency` + `jitter` is waited out;
//! 2. `reset`: the connection is aborted, nothing is applied;
//! 3. `error`: a 500/502/503 envelope, nothing is applied;
//! 4. routing (404 / 7003), bearer token (403 / 10000), rate limit (429 / 971), account
//!    (403 / 9109), then the endpoint itself;
//! 5. `lost` (writes only): the write is applied, then the connection is aborted;
//! 6. `slow`: the handled response is held back for `slow_delay`.
//!
//! Every request is journaled with its final status (0 when the connection was aborted).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::JournalEntry;
use super::config::{
    APPS_DEFAULT_PER_PAGE, Faults, POLICIES_DEFAULT_PER_PAGE, RateLimit, SimConfig,
};
use super::store::{ApiError, Store};

/// The base path every route lives under.
pub(crate) const BASE_PATH: &str = "/client/v4";
/// Largest request body accepted.
const BODY_LIMIT: usize = 4 * 1024 * 1024;

/// State shared between the server task and the [`super::Simulator`] handle.
pub(crate) struct Shared {
    pub account_id: String,
    pub token: String,
    apps_page_cap: usize,
    policies_page_cap: usize,
    pub store: Mutex<Store>,
    pub journal: Mutex<Vec<JournalEntry>>,
    faults: Mutex<Faults>,
    rng: Mutex<fastrand::Rng>,
    rate_limit: Mutex<Option<RateLimit>>,
    windows: Mutex<HashMap<String, Window>>,
    /// Cancelled at shutdown: ends every injected delay so no connection task lingers.
    pub cancel: CancellationToken,
}

/// One token's fixed rate-limit window.
struct Window {
    started: Instant,
    count: u32,
}

/// Where a token stands in its rate-limit window after one request.
struct RateState {
    allowed: bool,
    remaining: u32,
    /// Whole seconds until the window ends, at least 1.
    reset_secs: u64,
    limit: RateLimit,
}

impl RateState {
    /// NOTE: "Responses may also carry `Ratelimit` / `Ratelimit-Policy` headers (header
    /// names have changed over time)". ASSUMED format: the IETF draft's structured
    /// fields, `"default";r=<remaining>;t=<seconds>` and `"default";q=<quota>;w=<window>`.
    fn add_headers(&self, response: &mut Response) {
        let headers = response.headers_mut();
        let pairs = [
            (
                "ratelimit",
                format!("\"default\";r={};t={}", self.remaining, self.reset_secs),
            ),
            (
                "ratelimit-policy",
                format!(
                    "\"default\";q={};w={}",
                    self.limit.requests,
                    self.limit.window.as_secs().max(1)
                ),
            ),
        ];
        for (name, value) in pairs {
            if let Ok(value) = value.parse() {
                headers.insert(name, value);
            }
        }
    }
}

/// What the fault dice decided for one request.
#[derive(Debug, Default)]
struct Draw {
    delay: Duration,
    reset: bool,
    error: Option<u16>,
    lost: bool,
    slow: Option<Duration>,
}

/// Locks a mutex, ignoring poisoning: every critical section leaves the data consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn rng_for(faults: &Faults) -> fastrand::Rng {
    faults
        .seed
        .map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed)
}

impl Shared {
    pub fn new(config: SimConfig, store: Store) -> Self {
        Self {
            rng: Mutex::new(rng_for(&config.faults)),
            account_id: config.account_id,
            token: config.token,
            apps_page_cap: config.apps_page_cap.max(1),
            policies_page_cap: config.policies_page_cap.max(1),
            store: Mutex::new(store),
            journal: Mutex::new(Vec::new()),
            faults: Mutex::new(config.faults),
            rate_limit: Mutex::new(config.rate_limit),
            windows: Mutex::new(HashMap::new()),
            cancel: CancellationToken::new(),
        }
    }

    /// Replaces the faults; a seed restarts the RNG so the sequence is reproducible.
    pub fn set_faults(&self, faults: Faults) {
        if faults.seed.is_some() {
            *lock(&self.rng) = rng_for(&faults);
        }
        *lock(&self.faults) = faults;
    }

    /// Replaces the rate limit and forgets every window.
    pub fn set_rate_limit(&self, limit: Option<RateLimit>) {
        *lock(&self.rate_limit) = limit;
        lock(&self.windows).clear();
    }

    /// Rolls the dice for one request. The same number of values is drawn every time, so
    /// a seeded run gives the same faults to the same request sequence.
    fn draw(&self) -> Draw {
        let faults = lock(&self.faults).clone();
        let mut rng = lock(&self.rng);
        let jitter = rng.f64();
        let reset = rng.f64();
        let error = rng.f64();
        let error_status = [500, 502, 503][rng.usize(0..3)];
        let lost = rng.f64();
        let slow = rng.f64();
        Draw {
            delay: faults.latency + faults.jitter.mul_f64(jitter),
            reset: reset < faults.reset_rate,
            error: (error < faults.error_rate).then_some(error_status),
            lost: lost < faults.lost_response_rate,
            slow: (slow < faults.slow_rate).then_some(faults.slow_delay),
        }
    }

    fn record(&self, method: &Method, path: &str, query: Option<&str>, status: u16) {
        lock(&self.journal).push(JournalEntry {
            method: method.as_str().to_owned(),
            path: path.to_owned(),
            query: query.map(str::to_owned),
            status,
        });
    }

    /// Sleeps, unless the simulator shuts down first. Returns false when cut short.
    async fn pause(&self, delay: Duration) -> bool {
        if delay.is_zero() {
            return true;
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => true,
            () = self.cancel.cancelled() => false,
        }
    }

    /// Counts a request against the token's window; `None` when there is no limit.
    fn check_rate(&self, token: &str) -> Option<RateState> {
        let limit = (*lock(&self.rate_limit))?;
        let now = Instant::now();
        let mut windows = lock(&self.windows);
        let window = windows.entry(token.to_owned()).or_insert(Window {
            started: now,
            count: 0,
        });
        if now.duration_since(window.started) >= limit.window {
            *window = Window {
                started: now,
                count: 0,
            };
        }
        let allowed = window.count < limit.requests;
        if allowed {
            window.count += 1;
        }
        let reset = limit
            .window
            .saturating_sub(now.duration_since(window.started));
        Some(RateState {
            allowed,
            remaining: limit.requests - window.count,
            reset_secs: (reset.as_secs() + u64::from(reset.subsec_nanos() > 0)).max(1),
            limit,
        })
    }
}

/// The axum app: a single fallback handler.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

async fn handle(State(sim): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let method = parts.method;
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().map(str::to_owned);
    let draw = sim.draw();

    if !sim.pause(draw.delay).await {
        return dropped();
    }
    if draw.reset {
        sim.record(&method, &path, query.as_deref(), 0);
        return dropped();
    }
    if let Some(status) = draw.error {
        sim.record(&method, &path, query.as_deref(), status);
        return server_error(status);
    }
    let response = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(body) => api(
            &sim,
            &method,
            &path,
            query.as_deref(),
            &parts.headers,
            &body,
        ),
        Err(_) => fail(&ApiError::invalid("request body could not be read")),
    };
    let is_write = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    if is_write && draw.lost {
        sim.record(&method, &path, query.as_deref(), 0);
        return dropped();
    }
    sim.record(&method, &path, query.as_deref(), response.status().as_u16());
    if let Some(delay) = draw.slow {
        // NOTE: a slow request has already been handled (a write is applied) before the
        // delay: like a real timeout, the client cannot tell whether it landed.
        if !sim.pause(delay).await {
            return dropped();
        }
    }
    response
}

/// A response whose body fails before anything is written: hyper aborts the connection
/// and the client sees a transport error, not an HTTP status.
fn dropped() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, io::Error>(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "simulated connection reset",
        ))
    });
    Response::new(Body::from_stream(stream))
}

/// An injected 5xx.
///
/// NOTE: 10001 `access.api.error.internal_server_error` (500). ASSUMED: 502 and 503
/// carry the same envelope shape and code (the real edge may send HTML there).
fn server_error(status: u16) -> Response {
    let message = match status {
        502 => "access.api.error.bad_gateway",
        503 => "access.api.error.service_unavailable",
        _ => "access.api.error.internal_server_error",
    };
    fail(&ApiError::new(status, 10001, message))
}

fn envelope(status: u16, body: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn ok(status: u16, result: Value, result_info: Option<Value>) -> Response {
    let mut body = json!({"success": true, "errors": [], "messages": []});
    body["result"] = result;
    if let Some(info) = result_info {
        body["result_info"] = info;
    }
    envelope(status, &body)
}

fn fail(err: &ApiError) -> Response {
    envelope(
        err.status,
        &json!({
            "success": false,
            "errors": [{"code": err.code, "message": err.message}],
            "messages": [],
            "result": null,
        }),
    )
}

/// The routes the simulator knows, after `/client/v4`.
enum Route<'a> {
    UserVerify,
    AccountVerify,
    Apps,
    App(&'a str),
    Policies,
    Policy(&'a str),
    Tags,
}

/// Splits a path into the account id (when the route has one) and the route.
fn route(path: &str) -> Option<(Option<&str>, Route<'_>)> {
    let rest = path.strip_prefix(BASE_PATH)?.strip_prefix('/')?;
    let segments: Vec<&str> = rest.split('/').collect();
    match segments.as_slice() {
        ["user", "tokens", "verify"] => Some((None, Route::UserVerify)),
        ["accounts", acct, rest @ ..] if !acct.is_empty() => {
            let route = match rest {
                ["tokens", "verify"] => Route::AccountVerify,
                ["access", "apps"] => Route::Apps,
                ["access", "apps", id] if !id.is_empty() => Route::App(id),
                ["access", "policies"] => Route::Policies,
                ["access", "policies", id] if !id.is_empty() => Route::Policy(id),
                ["access", "tags"] => Route::Tags,
                _ => return None,
            };
            Some((Some(acct), route))
        }
        _ => None,
    }
}

fn allowed(route: &Route<'_>, method: &Method) -> bool {
    match route {
        Route::UserVerify | Route::AccountVerify | Route::Tags => method == Method::GET,
        Route::Apps | Route::Policies => matches!(*method, Method::GET | Method::POST),
        Route::App(_) | Route::Policy(_) => {
            matches!(*method, Method::GET | Method::PUT | Method::DELETE)
        }
    }
}

/// Handles one request that got past the fault dice.
fn api(
    sim: &Shared,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    // NOTE: 7003 `No route for the URI` (404). ASSUMED: a known path with a method it
    // does not support gets the same answer.
    let Some((account, route)) = route(path).filter(|(_, r)| allowed(r, method)) else {
        return fail(&ApiError::new(404, 7003, "No route for the URI"));
    };
    // NOTE: 10000 `Authentication error` (403) for a missing or wrong token.
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(sim.token.as_str()) {
        return fail(&ApiError::new(403, 10000, "Authentication error"));
    }
    // NOTE: "1,200 requests per 5 minutes per user ... HTTP 429", with `Retry-After`
    // in seconds; the body is the envelope with 971 "Please wait and consider
    // throttling your request speed" (as wrangler reports it, cloudflare/workers-sdk#10025).
    let rate = sim.check_rate(&sim.token);
    let mut response = match &rate {
        Some(rate) if !rate.allowed => {
            let mut response = fail(&ApiError::new(
                429,
                971,
                "Please wait and consider throttling your request speed",
            ));
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, rate.reset_secs.into());
            response
        }
        _ => dispatch(sim, method, route, account, query, body),
    };
    if let Some(rate) = rate {
        rate.add_headers(&mut response);
    }
    response
}

/// Handles an authenticated request within its rate limit.
fn dispatch(
    sim: &Shared,
    method: &Method,
    route: Route<'_>,
    account: Option<&str>,
    query: Option<&str>,
    body: &Bytes,
) -> Response {
    // NOTE: 9109 `Unauthorized to access requested resource` (403): what a token gets
    // for an account it has no access to; the simulator's token only knows one account.
    if account.is_some_and(|a| a != sim.account_id) {
        return fail(&ApiError::new(
            403,
            9109,
            "Unauthorized to access requested resource",
        ));
    }

    let result = match route {
        Route::UserVerify | Route::AccountVerify => {
            let digest = Sha256::digest(sim.token.as_bytes());
            let id = digest.iter().take(16).fold(String::new(), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            });
            return ok(200, json!({"id": id, "status": "active"}), None);
        }
        Route::Apps if method == Method::GET => {
            return paginate(query, APPS_DEFAULT_PER_PAGE, sim.apps_page_cap, |range| {
                lock(&sim.store).apps_page(range)
            });
        }
        Route::Policies if method == Method::GET => {
            return paginate(
                query,
                POLICIES_DEFAULT_PER_PAGE,
                sim.policies_page_cap,
                |range| lock(&sim.store).policies_page(range),
            );
        }
        Route::Tags => {
            // NOTE: ASSUMED default page size: the SDK's tag list pages like the other
            // v4 lists (`V4PagePaginationArray`); no source gives its default.
            return paginate(
                query,
                POLICIES_DEFAULT_PER_PAGE,
                sim.policies_page_cap,
                |range| lock(&sim.store).tags_page(range),
            );
        }
        Route::App(id) if method == Method::GET => lock(&sim.store)
            .app(id)
            .ok_or_else(ApiError::not_found)
            .map(|a| (200, a)),
        Route::Policy(id) if method == Method::GET => lock(&sim.store)
            .policy(id)
            .ok_or_else(ApiError::not_found)
            .map(|p| (200, p)),
        Route::App(id) if method == Method::DELETE => {
            lock(&sim.store).delete_app(id).map(|r| (202, r))
        }
        Route::Policy(id) if method == Method::DELETE => {
            lock(&sim.store).delete_policy(id).map(|r| (202, r))
        }
        route => match parse_body(body) {
            Err(e) => Err(e),
            Ok(body) => {
                let mut store = lock(&sim.store);
                match route {
                    Route::Apps => store.create_app(&body).map(|a| (201, a)),
                    Route::App(id) => store.put_app(id, &body).map(|a| (200, a)),
                    Route::Policies => store.create_policy(&body).map(|p| (201, p)),
                    Route::Policy(id) => store.put_policy(id, &body).map(|p| (200, p)),
                    Route::UserVerify | Route::AccountVerify | Route::Tags => {
                        Err(ApiError::new(404, 7003, "No route for the URI"))
                    }
                }
            }
        },
    };
    match result {
        Ok((status, value)) => ok(status, value, None),
        Err(e) => fail(&e),
    }
}

fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    // NOTE: ASSUMED: a body that is not JSON is 400 / 12130.
    serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid(format!("request body is not valid JSON: {e}")))
}

/// One page of a list, with `result_info`.
///
/// NOTE: "the server may give fewer items per page than asked": `per_page` is capped
/// and the effective value is what `result_info` reports. "A page past the end returns
/// 200 with `result: []`."
/// One page of a list. `page_of` renders only the items in the range asked for and
/// returns them with the total count, so a large account costs one page per request.
fn paginate(
    query: Option<&str>,
    default_per_page: usize,
    cap: usize,
    page_of: impl FnOnce(std::ops::Range<usize>) -> (Vec<Value>, usize),
) -> Response {
    let mut page = 1usize;
    let mut per_page = default_per_page;
    for (key, value) in query
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
    {
        let target = match key {
            "page" => &mut page,
            "per_page" => &mut per_page,
            _ => continue,
        };
        // NOTE: ASSUMED: a page or per_page that is not a positive integer is 400 / 12130.
        match value.parse::<usize>() {
            Ok(n) if n >= 1 => *target = n,
            _ => {
                return fail(&ApiError::invalid(format!(
                    "{key} must be a positive integer, got {value:?}"
                )));
            }
        }
    }
    let per_page = per_page.min(cap);
    let start = (page - 1).saturating_mul(per_page);
    let (result, total) = page_of(start..start.saturating_add(per_page));
    let info = json!({
        "page": page,
        "per_page": per_page,
        "count": result.len(),
        "total_count": total,
        "total_pages": total.div_ceil(per_page),
    });
    ok(200, Value::Array(result), Some(info))
}
