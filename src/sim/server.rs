//! The HTTP face of the simulator: routing, envelopes, auth, pagination, rate limiting,
//! injected faults and the request journal.
//!
//! One fallback handler routes by hand, so that every request (known route or not, any
//! method) goes through the same pipeline, in this order:
//!
//! 1. fault dice are rolled; `latency` + `jitter` is waited out;
//! 2. `reset`: the connection is aborted, nothing is applied;
//! 3. `error`: a 500/502/503 envelope, nothing is applied;
//! 4. routing (404 / 7003), credentials (400 / 9106 missing, 400 / 6003 malformed,
//!    403 / 10000 wrong), rate limit (429 / 971), account (403 / 9109), then the
//!    endpoint itself; the `--misbehave` switches (off by default, see `misbehave`)
//!    bend this step on purpose;
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
use futures::StreamExt;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::config::{
    APPS_DEFAULT_PER_PAGE, Faults, POLICIES_DEFAULT_PER_PAGE, RateLimit, SimConfig,
};
use super::misbehave::{BadResult, List, ListMisbehaviour, Misbehaviour};
use super::store::{ApiError, Store};
use super::{JournalEntry, WriteRecord};

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
    /// Successful writes, when `record_writes` is on.
    pub write_log: Mutex<Vec<WriteRecord>>,
    record_writes: bool,
    faults: Mutex<Faults>,
    rng: Mutex<fastrand::Rng>,
    rate_limit: Mutex<Option<RateLimit>>,
    rate_limit_spent: Mutex<u32>,
    windows: Mutex<HashMap<String, Window>>,
    misbehave: Mutex<Misbehaviour>,
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
            write_log: Mutex::new(Vec::new()),
            record_writes: config.record_writes,
            faults: Mutex::new(config.faults),
            rate_limit: Mutex::new(config.rate_limit),
            rate_limit_spent: Mutex::new(config.rate_limit_spent),
            windows: Mutex::new(HashMap::new()),
            misbehave: Mutex::new(config.misbehave),
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

    /// Replaces the misbehaviour switches.
    pub fn set_misbehaviour(&self, misbehave: Misbehaviour) {
        *lock(&self.misbehave) = misbehave;
    }

    /// Sets what another client spends of every window, and forgets every window.
    pub fn set_rate_limit_spent(&self, spent: u32) {
        *lock(&self.rate_limit_spent) = spent;
        lock(&self.windows).clear();
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

    /// Keeps a successful write in the write log, when recording. Called with the store
    /// lock held.
    fn log_write(
        &self,
        method: &Method,
        path: &str,
        body: &Value,
        result: &Result<(u16, Value), ApiError>,
    ) {
        if let (true, Ok((_, value))) = (self.record_writes, result) {
            lock(&self.write_log).push(WriteRecord {
                method: method.as_str().to_owned(),
                path: path.to_owned(),
                body: body.clone(),
                result: value.clone(),
            });
        }
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
        // Another client of the same user starts every window by spending this much.
        let spent = (*lock(&self.rate_limit_spent)).min(limit.requests);
        let now = Instant::now();
        let mut windows = lock(&self.windows);
        let window = windows.entry(token.to_owned()).or_insert(Window {
            started: now,
            count: spent,
        });
        if now.duration_since(window.started) >= limit.window {
            *window = Window {
                started: now,
                count: spent,
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
    /// `PUT /access/apps/{app_id}/policies/{policy_id}/make_reusable`.
    MakeReusable(&'a str, &'a str),
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
                ["access", "apps", app, "policies", policy, "make_reusable"]
                    if !app.is_empty() && !policy.is_empty() =>
                {
                    Route::MakeReusable(app, policy)
                }
                _ => return None,
            };
            Some((Some(acct), route))
        }
        _ => None,
    }
}

fn allowed(route: &Route<'_>, method: &Method) -> bool {
    match route {
        Route::UserVerify | Route::AccountVerify => method == Method::GET,
        Route::Apps | Route::Policies => matches!(*method, Method::GET | Method::POST),
        Route::App(_) | Route::Policy(_) => {
            matches!(*method, Method::GET | Method::PUT | Method::DELETE)
        }
        Route::MakeReusable(..) => method == Method::PUT,
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
    let misbehave = lock(&sim.misbehave).clone();
    if misbehave.echo_auth {
        // A hostile server: its error message quotes the credentials it was sent.
        let auth = headers
            .get(header::AUTHORIZATION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        return fail(&ApiError::new(
            400,
            6003,
            format!("Invalid request headers: could not use Authorization: {auth}"),
        ));
    }
    if let Some(response) = check_auth(sim, headers) {
        return response;
    }
    if let Some(wait) = misbehave.always_429 {
        let mut response = fail(&ApiError::new(
            429,
            971,
            "Please wait and consider throttling your request speed",
        ));
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, wait.as_secs().into());
        return response;
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
        _ => match &misbehave.redirect_writes {
            Some(redirect) if !matches!(*method, Method::GET | Method::HEAD) => {
                let status =
                    StatusCode::from_u16(redirect.status).unwrap_or(StatusCode::TEMPORARY_REDIRECT);
                let location = format!("{}{path}", redirect.to);
                (status, [(header::LOCATION, location)]).into_response()
            }
            _ => dispatch(sim, method, path, route, account, query, body, &misbehave),
        },
    };
    if let Some(rate) = rate {
        rate.add_headers(&mut response);
    }
    response
}

/// Handles an authenticated request within its rate limit.
#[allow(clippy::too_many_arguments)] // the parts of one request, as `api` split them
fn dispatch(
    sim: &Shared,
    method: &Method,
    path: &str,
    route: Route<'_>,
    account: Option<&str>,
    query: Option<&str>,
    body: &Bytes,
    misbehave: &Misbehaviour,
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
            let list = Listing {
                default_per_page: APPS_DEFAULT_PER_PAGE,
                cap: sim.apps_page_cap,
                kind: List::Apps,
                misbehave,
                cancel: &sim.cancel,
            };
            return paginate(query, &list, |range| lock(&sim.store).apps_page(range));
        }
        Route::Policies if method == Method::GET => {
            let list = Listing {
                default_per_page: POLICIES_DEFAULT_PER_PAGE,
                cap: sim.policies_page_cap,
                kind: List::Policies,
                misbehave,
                cancel: &sim.cancel,
            };
            return paginate(query, &list, |range| lock(&sim.store).policies_page(range));
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
            let mut store = lock(&sim.store);
            let result = store.delete_app(id).map(|r| (202, r));
            sim.log_write(method, path, &Value::Null, &result);
            result
        }
        Route::Policy(id) if method == Method::DELETE => {
            let mut store = lock(&sim.store);
            let result = store.delete_policy(id).map(|r| (202, r));
            sim.log_write(method, path, &Value::Null, &result);
            result
        }
        // NOTE (Cloudflare docs): "make a PUT request with an empty request body".
        Route::MakeReusable(app, policy) => lock(&sim.store)
            .make_reusable(app, policy)
            .map(|p| (200, p)),
        route => match parse_body(body) {
            Err(e) => Err(e),
            Ok(body) => {
                let mut store = lock(&sim.store);
                let result = match route {
                    Route::Apps => store.create_app(&body).map(|a| (201, a)),
                    Route::App(id) => store.put_app(id, &body).map(|a| (200, a)),
                    Route::Policies => store.create_policy(&body).map(|p| (201, p)),
                    Route::Policy(id) => store.put_policy(id, &body).map(|p| (200, p)),
                    Route::UserVerify | Route::AccountVerify | Route::MakeReusable(..) => {
                        Err(ApiError::new(404, 7003, "No route for the URI"))
                    }
                };
                // Still under the store lock: the log's order is the order of changes.
                sim.log_write(method, path, &body, &result);
                result
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

/// How one list is served.
struct Listing<'a> {
    default_per_page: usize,
    cap: usize,
    kind: List,
    misbehave: &'a Misbehaviour,
    cancel: &'a CancellationToken,
}

/// One page of a list, with `result_info`. `page_of` renders only the items in the
/// range asked for and returns them with the total count, so a large account costs
/// one page per request.
///
/// NOTE: "the server may give fewer items per page than asked": `per_page` is capped
/// and the effective value is what `result_info` reports. "A page past the end returns
/// 200 with `result: []`." Misbehaviours (off by default) bend this on purpose.
fn paginate(
    query: Option<&str>,
    list: &Listing<'_>,
    page_of: impl Fn(std::ops::Range<usize>) -> (Vec<Value>, usize),
) -> Response {
    let mut page = 1usize;
    let mut per_page = list.default_per_page;
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
    if let Some(max) = list.misbehave.max_per_page.filter(|&max| per_page > max) {
        // ASSUMED shape of a refused page size: 400 / 12130.
        return fail(&ApiError::invalid(format!(
            "per_page must be at most {max}, got {per_page}"
        )));
    }
    let per_page = per_page.min(list.cap);
    let m = list.misbehave.list(list.kind);
    if let Some(size) = m.huge_body {
        return huge_body(size);
    }
    if m.stall_body {
        return stalled_body(list.cancel.clone());
    }
    match m.bad_result {
        Some(BadResult::Null) => return ok(200, Value::Null, None),
        Some(BadResult::Object) => return ok(200, json!({}), None),
        None => {}
    }
    let (result, total) = if m.is_none() {
        let start = (page - 1).saturating_mul(per_page);
        page_of(start..start.saturating_add(per_page))
    } else {
        misbehaving_page(m, list.kind, page, per_page, &page_of)
    };
    let reported = match (m.total, m.understate_total) {
        (Some(total), _) => total,
        (None, true) => total as u64 / 2,
        (None, false) => total as u64,
    };
    let info = json!({
        "page": page,
        "per_page": per_page,
        "count": result.len(),
        "total_count": reported,
        "total_pages": reported.div_ceil(per_page as u64),
    });
    ok(200, Value::Array(result), Some(info))
}

/// The items of `page` under a list's misbehaviours, and the real total.
fn misbehaving_page(
    m: &ListMisbehaviour,
    kind: List,
    page: usize,
    per_page: usize,
    page_of: &impl Fn(std::ops::Range<usize>) -> (Vec<Value>, usize),
) -> (Vec<Value>, usize) {
    let total = page_of(0..0).1;
    let source = m
        .page_as
        .iter()
        .find(|(p, _)| *p == page)
        .map_or(page, |&(_, q)| q);
    // A dropped page: from it on, every page answers with the next one's items.
    let shifted = m.drop_page.is_some_and(|d| source >= d);
    let start = (source - 1 + usize::from(shifted)).saturating_mul(per_page);
    let (mut items, _) = page_of(start..start.saturating_add(per_page));
    let visible = match m.drop_page {
        Some(d) => total - total.saturating_sub((d - 1) * per_page).min(per_page),
        None => total,
    };
    if items.is_empty() && m.repeat_last_page && visible > 0 && start >= visible {
        let last = (visible - 1) / per_page;
        let start = (last + usize::from(m.drop_page.is_some_and(|d| last + 1 >= d))) * per_page;
        items = page_of(start..start + per_page).0;
    }
    if m.endless {
        let mut i = items.len();
        while items.len() < per_page {
            items.push(endless_item(kind, page, i));
            i += 1;
        }
    }
    (items, total)
}

/// A made-up list item with a new id, for `endless`.
fn endless_item(kind: List, page: usize, i: usize) -> Value {
    let id = format!("{page:08x}-0000-4000-8000-{i:012x}");
    match kind {
        List::Apps => json!({
            "id": id, "uid": id, "name": format!("endless app {page}.{i}"),
            "type": "self_hosted", "domain": format!("endless-{page}-{i}.example.com"),
            "policies": [],
        }),
        List::Policies => json!({
            "id": id, "name": format!("endless policy {page}.{i}"), "decision": "allow",
            "include": [{"everyone": {}}], "exclude": [], "require": [], "reusable": true,
            "app_count": 0,
        }),
    }
}

/// A `size`-byte list response, streamed without `Content-Length`: a client that
/// buffers whole bodies holds all of it.
fn huge_body(size: u64) -> Response {
    const PREFIX: &[u8] = br#"{"success":true,"errors":[],"messages":[],"result":[],"padding":""#;
    const CHUNK: usize = 64 * 1024;
    let padding = size.saturating_sub(PREFIX.len() as u64 + 2);
    let chunks = futures::stream::iter(std::iter::once(Ok::<Bytes, io::Error>(
        Bytes::from_static(PREFIX),
    )))
    .chain(futures::stream::unfold(padding, |left| async move {
        (left > 0).then(|| {
            let n = left.min(CHUNK as u64);
            (
                Ok(Bytes::from(vec![b'x'; usize::try_from(n).unwrap_or(CHUNK)])),
                left - n,
            )
        })
    }))
    .chain(futures::stream::iter(std::iter::once(Ok(
        Bytes::from_static(b"\"}"),
    ))));
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(chunks),
    )
        .into_response()
}

/// A response whose `Content-Length` promises more than is sent; the connection is
/// then held open (until the simulator stops) without another byte.
fn stalled_body(cancel: CancellationToken) -> Response {
    let start = futures::stream::iter(std::iter::once(Ok::<Bytes, io::Error>(Bytes::from_static(
        br#"{"success":true,"result":["#,
    ))));
    let hold = futures::stream::once(async move {
        cancel.cancelled_owned().await;
        Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "simulator stopped",
        ))
    });
    (
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::CONTENT_LENGTH, "100000".to_owned()),
        ],
        Body::from_stream(start.chain(hold)),
    )
        .into_response()
}

/// The credentials check.
///
/// NOTE: a request without credentials gets 400 / 9106 "Missing X-Auth-Key,
/// X-Auth-Email or Authorization headers" (cloudflare-python #2678); a malformed token
/// gets 400 / 6003 "Invalid request headers" with the cause in `error_chain`, 6111
/// "Invalid format for Authorization header" (workers-sdk #5175); a well-formed token
/// that is not valid gets 403 / 10000 "Authentication error". ASSUMED: "malformed"
/// means not a `Bearer` value of letters, digits, `-` and `_` (Cloudflare's tokens are
/// 40 such characters; the simulator's may be any length).
fn check_auth(sim: &Shared, headers: &HeaderMap) -> Option<Response> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Some(fail(&ApiError::new(
            400,
            9106,
            "Missing X-Auth-Key, X-Auth-Email or Authorization headers",
        )));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|t| {
            !t.is_empty()
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    let Some(token) = token else {
        return Some(envelope(
            400,
            &json!({
                "success": false,
                "errors": [{
                    "code": 6003,
                    "message": "Invalid request headers",
                    "error_chain": [{"code": 6111, "message": "Invalid format for Authorization header"}],
                }],
                "messages": [],
                "result": null,
            }),
        ));
    };
    (token != sim.token).then(|| fail(&ApiError::new(403, 10000, "Authentication error")))
}
