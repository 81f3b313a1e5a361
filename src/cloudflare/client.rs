//! The HTTP client for the Access API: bearer auth, the response envelope, pagination
//! with concurrent page fetches, client-side rate limiting, bounded concurrency and
//! retries.
//!
//! NOTE (reference page, "Rate limits and retries"): the account allows 1,200 requests
//! per 5 minutes across dashboard and API. The limiter defaults to a burst of 200 and a
//! sustained 1,000 per 5 minutes, so that even a full burst followed by steady traffic
//! stays under 1,200 in any 5-minute window.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder, Retryable};
use futures::{StreamExt, TryStreamExt};
use governor::{DefaultDirectRateLimiter, Quota};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::error::{ApiMessage, Error};
use super::types::{App, AppSummary, Policy};

/// The public API's base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.cloudflare.com/client/v4";

/// A sustained request rate: `requests` per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests allowed per period.
    pub requests: u32,
    /// The period.
    pub per: Duration,
}

impl std::str::FromStr for Rate {
    type Err = String;

    /// Parses `1000/300s`, `60/10s`, `4/1s`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (n, per) = s.split_once('/').ok_or_else(|| {
            format!("`{s}` is not a rate: expected REQUESTS/DURATION, e.g. 1000/300s")
        })?;
        let requests: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("`{n}` is not a request count"))?;
        let per = humantime::parse_duration(per.trim()).map_err(|e| format!("`{per}`: {e}"))?;
        if requests == 0 || per.is_zero() {
            return Err(format!("`{s}`: requests and duration must be above zero"));
        }
        Ok(Rate { requests, per })
    }
}

/// Everything the client needs; built from the CLI's validated config.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// API base, e.g. [`DEFAULT_BASE_URL`] or a simulator's URL.
    pub base_url: String,
    /// The Cloudflare account id.
    pub account_id: String,
    /// The API token. Debug prints it redacted.
    pub token: SecretString,
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Timeout of one HTTP attempt.
    pub request_timeout: Duration,
    /// Total time one logical request may spend retrying, waits included.
    pub retry_deadline: Duration,
    /// Sustained client-side rate.
    pub rate: Rate,
    /// Requests allowed at once before the sustained rate applies.
    pub burst: u32,
    /// `per_page` asked for when listing (the server may give fewer).
    pub page_size: u32,
    /// Show a progress bar on stderr for long reads and applies (only drawn when
    /// stderr is a terminal).
    pub progress: bool,
}

impl ClientConfig {
    /// Defaults for everything but the endpoint and credentials.
    pub fn new(
        base_url: impl Into<String>,
        account_id: impl Into<String>,
        token: SecretString,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            account_id: account_id.into(),
            token,
            concurrency: 4,
            request_timeout: Duration::from_secs(30),
            retry_deadline: Duration::from_secs(6 * 60),
            rate: Rate {
                requests: 1000,
                per: Duration::from_secs(300),
            },
            burst: 200,
            page_size: 1000,
            progress: false,
        }
    }
}

/// Receives one call per HTTP attempt; the controller's metrics implement it.
pub trait ApiObserver: Send + Sync {
    /// An attempt finished. `endpoint` is a low-cardinality label (`apps`, `app`,
    /// `policies`, `policy`, `verify`); `status` is 0 when no response arrived.
    fn request(&self, method: &str, endpoint: &str, status: u16);
    /// An attempt is about to be retried.
    fn retry(&self);
}

/// A cheap-to-clone handle to the Access API of one account.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: ClientConfig,
    in_flight: Semaphore,
    limiter: DefaultDirectRateLimiter,
    observer: Option<Arc<dyn ApiObserver>>,
    progress: ProgressBar,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.config.base_url)
            .field("account_id", &self.inner.config.account_id)
            .field("token", &"(redacted)")
            .finish_non_exhaustive()
    }
}

/// One failed attempt, classified for the retry loop.
struct Attempt {
    error: Error,
    retryable: bool,
    retry_after: Option<Duration>,
}

/// The response envelope, with `result` parsed straight into what the caller needs
/// (list pages into slim apps, so a large account is never held as a full JSON tree).
#[derive(Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
struct Envelope<T = Value> {
    #[serde(default)]
    success: Option<bool>,
    #[serde(default)]
    errors: Vec<ApiMessage>,
    #[serde(default = "Option::default")]
    result: Option<T>,
    #[serde(default)]
    result_info: Option<ResultInfo>,
}

/// An item of a paginated list: de-duplicated by its id.
trait Listed: serde::de::DeserializeOwned + Send {
    fn key(&self) -> Option<&str>;
}

impl Listed for Value {
    fn key(&self) -> Option<&str> {
        self.get("id")
            .or_else(|| self.get("uid"))
            .and_then(Value::as_str)
    }
}

impl Listed for AppSummary {
    fn key(&self) -> Option<&str> {
        Some(self.0.uid()).filter(|k| !k.is_empty())
    }
}

/// An Access tag as `GET /access/tags` lists it; only its name is read. Tags have no
/// id: the name is their key (and the path of `/access/tags/{name}`).
#[derive(Deserialize)]
struct AccessTag {
    name: String,
}

impl Listed for AccessTag {
    fn key(&self) -> Option<&str> {
        Some(self.name.as_str())
    }
}

#[derive(Deserialize, Default, Clone, Copy)]
struct ResultInfo {
    #[serde(default)]
    per_page: Option<u64>,
    #[serde(default)]
    total_count: Option<u64>,
}

/// How a request may be retried.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Idempotence {
    /// GET, PUT, DELETE: repeating them is harmless.
    Idempotent,
    /// POST: only repeated when it certainly did not happen (429, connect failure).
    CreateOnce,
}

impl Client {
    /// Builds a client. Fails only if the TLS backend cannot start.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        Self::build(config, None)
    }

    /// Builds a client that reports every attempt to `observer` (metrics).
    pub fn with_observer(
        config: ClientConfig,
        observer: Arc<dyn ApiObserver>,
    ) -> Result<Self, Error> {
        Self::build(config, Some(observer))
    }

    fn build(config: ClientConfig, observer: Option<Arc<dyn ApiObserver>>) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("mcp-access/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Transport {
                request: "client setup".into(),
                reason: e.to_string(),
            })?;
        let burst = NonZeroU32::new(config.burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let period = config.rate.per / config.rate.requests.max(1);
        let quota = Quota::with_period(period.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        // Hidden unless asked for and stderr is a terminal: logs and pipes stay clean.
        let progress = if config.progress && std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                in_flight: Semaphore::new(config.concurrency.max(1)),
                limiter: DefaultDirectRateLimiter::direct(quota),
                config,
                observer,
                progress,
            }),
        })
    }

    /// The progress bar long operations advance (hidden when not wanted).
    pub fn progress(&self) -> &ProgressBar {
        &self.inner.progress
    }

    /// The configuration this client runs with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    fn account_path(&self, rest: &str) -> String {
        format!("/accounts/{}{rest}", self.inner.config.account_id)
    }

    /// Every Access application of the account.
    pub async fn list_apps(&self) -> Result<Vec<App>, Error> {
        let path = self.account_path("/access/apps");
        let items: Vec<AppSummary> = self.list_all(&path).await?;
        Ok(items.into_iter().map(|a| a.0).collect())
    }

    /// Every reusable Access policy of the account.
    pub async fn list_policies(&self) -> Result<Vec<Policy>, Error> {
        let path = self.account_path("/access/policies");
        let items: Vec<Value> = self.list_all(&path).await?;
        Ok(items.into_iter().filter_map(Policy::from_value).collect())
    }

    /// The names of the account's Access tags (`GET /access/tags`).
    pub async fn list_tags(&self) -> Result<Vec<String>, Error> {
        let path = self.account_path("/access/tags");
        let items: Vec<AccessTag> = self.list_all(&path).await?;
        Ok(items.into_iter().map(|t| t.name).collect())
    }

    /// One app, fresh.
    pub async fn get_app(&self, id: &str) -> Result<App, Error> {
        let path = self.account_path(&format!("/access/apps/{id}"));
        let env = self.request(Method::GET, &path, &[], None).await?;
        decode_app(&path, env.result.unwrap_or_default())
    }

    /// Replaces an app. `body` must carry every field to keep (see `App::put_body`).
    pub async fn put_app(&self, id: &str, body: &Value) -> Result<App, Error> {
        let path = self.account_path(&format!("/access/apps/{id}"));
        let env = self.request(Method::PUT, &path, &[], Some(body)).await?;
        decode_app(&path, env.result.unwrap_or_default())
    }

    /// Creates a reusable policy. Never repeated once it may have reached the API: an
    /// [`Error::OutcomeUnknown`] tells the caller to look before creating again.
    pub async fn create_policy(&self, body: &Value) -> Result<Policy, Error> {
        let path = self.account_path("/access/policies");
        let env = self
            .send(
                Method::POST,
                &path,
                &[],
                Some(body),
                Idempotence::CreateOnce,
            )
            .await?;
        decode_policy(&path, env.result.unwrap_or_default())
    }

    /// One reusable policy, fresh.
    pub async fn get_policy(&self, id: &str) -> Result<Policy, Error> {
        let path = self.account_path(&format!("/access/policies/{id}"));
        let env = self.request(Method::GET, &path, &[], None).await?;
        decode_policy(&path, env.result.unwrap_or_default())
    }

    /// Replaces a reusable policy.
    pub async fn put_policy(&self, id: &str, body: &Value) -> Result<Policy, Error> {
        let path = self.account_path(&format!("/access/policies/{id}"));
        let env = self.request(Method::PUT, &path, &[], Some(body)).await?;
        decode_policy(&path, env.result.unwrap_or_default())
    }

    /// Deletes a reusable policy. A 404 counts as done: the policy is gone either way.
    pub async fn delete_policy(&self, id: &str) -> Result<(), Error> {
        let path = self.account_path(&format!("/access/policies/{id}"));
        match self.request(Method::DELETE, &path, &[], None).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every item of a paginated list.
    ///
    /// NOTE (reference page, "Pagination"): the server may give fewer items per page
    /// than asked, `total_pages` may be absent, and a page past the end is empty. So
    /// the first page tells the honoured page size and the total; the remaining pages
    /// are then fetched concurrently; if the list grew meanwhile, pages are read on
    /// until an empty one. Items are de-duplicated by id, and a page that adds nothing
    /// new stops the walk, so a server repeating its last page cannot loop us.
    async fn list_all<T: Listed>(&self, path: &str) -> Result<Vec<T>, Error> {
        let asked = self.inner.config.page_size.max(1);
        let progress = &self.inner.progress;
        progress.set_message("reading the account");
        progress.inc_length(1);
        let first = self.get_page(path, 1, asked).await?;
        progress.inc(1);
        let mut seen = HashSet::new();
        let mut items = Vec::new();
        let first_len = first.0.len();
        absorb(&mut seen, &mut items, first.0);
        if first_len == 0 {
            return Ok(items);
        }
        let honoured = first
            .1
            .per_page
            .filter(|&n| n > 0)
            .map_or(first_len, |n| usize::try_from(n).unwrap_or(usize::MAX))
            .min(first_len.max(1))
            .max(1);
        let mut next_page = 2;
        if let Some(total) = first.1.total_count {
            let total = usize::try_from(total).unwrap_or(usize::MAX);
            let pages = total.div_ceil(honoured);
            if pages >= 2 {
                progress.inc_length((pages - 1) as u64);
                let fetched: Vec<(Vec<T>, ResultInfo)> = futures::stream::iter(2..=pages)
                    .map(|page| async move {
                        let result = self.get_page(path, page, asked).await;
                        progress.inc(1);
                        result
                    })
                    .buffered(self.inner.config.concurrency.max(1))
                    .try_collect()
                    .await?;
                for (page_items, _) in fetched {
                    absorb(&mut seen, &mut items, page_items);
                }
                next_page = pages + 1;
            }
            if items.len() >= total {
                return Ok(items);
            }
        }
        // Sequential walk: no total was given, or the list grew while we read it.
        loop {
            let (page_items, _) = self.get_page(path, next_page, asked).await?;
            if page_items.is_empty() || absorb(&mut seen, &mut items, page_items) == 0 {
                return Ok(items);
            }
            next_page += 1;
        }
    }

    async fn get_page<T: Listed>(
        &self,
        path: &str,
        page: usize,
        per_page: u32,
    ) -> Result<(Vec<T>, ResultInfo), Error> {
        let query = [
            ("page", page.to_string()),
            ("per_page", per_page.to_string()),
        ];
        let env: Envelope<Vec<T>> = self
            .send(Method::GET, path, &query, None, Idempotence::Idempotent)
            .await?;
        Ok((
            env.result.unwrap_or_default(),
            env.result_info.unwrap_or_default(),
        ))
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Envelope, Error> {
        self.send(method, path, query, body, Idempotence::Idempotent)
            .await
    }

    /// One logical request: attempts with retries, bounded by the retry deadline.
    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        idempotence: Idempotence,
    ) -> Result<Envelope<T>, Error> {
        let deadline = self.inner.config.retry_deadline;
        let started = Instant::now();
        let attempts = std::sync::atomic::AtomicU32::new(0);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(250))
            .with_max_delay(Duration::from_secs(30))
            .with_jitter()
            .without_max_times()
            .build();
        let result = (|| async {
            attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.attempt(&method, path, query, body, idempotence).await
        })
        .retry(backoff)
        .when(|a: &Attempt| a.retryable)
        .adjust(|a: &Attempt, planned: Option<Duration>| {
            let wait = a.retry_after.or(planned)?;
            let remaining = deadline.saturating_sub(started.elapsed());
            if wait > remaining {
                return None;
            }
            if let Some(after) = a.retry_after {
                tracing::warn!(
                    request = %format!("{method} {path}"),
                    wait = %humantime::format_duration(after),
                    "Cloudflare asked us to wait (Retry-After); waiting it out"
                );
            } else {
                tracing::debug!(request = %format!("{method} {path}"), error = %a.error, ?wait, "retrying");
            }
            if let Some(obs) = &self.inner.observer {
                obs.retry();
            }
            Some(wait)
        })
        .await;
        match result {
            Ok(env) => Ok(env),
            Err(a) if a.retryable => Err(Error::DeadlineExceeded {
                request: format!("{method} {path}"),
                attempts: attempts.load(std::sync::atomic::Ordering::Relaxed),
                deadline,
                last: Box::new(a.error),
            }),
            Err(a) => Err(a.error),
        }
    }

    /// One HTTP attempt, classified.
    async fn attempt<T: serde::de::DeserializeOwned>(
        &self,
        method: &Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        idempotence: Idempotence,
    ) -> Result<Envelope<T>, Attempt> {
        let request = format!("{method} {path}");
        let _permit = self.inner.in_flight.acquire().await.map_err(|_| Attempt {
            error: Error::Transport {
                request: request.clone(),
                reason: "client shut down".into(),
            },
            retryable: false,
            retry_after: None,
        })?;
        self.inner.limiter.until_ready().await;
        let url = format!("{}{path}", self.inner.config.base_url.trim_end_matches('/'));
        let mut builder = self
            .inner
            .http
            .request(method.clone(), &url)
            .bearer_auth(self.inner.config.token.expose_secret());
        if !query.is_empty() {
            builder = builder.query(query);
        }
        if let Some(body) = body {
            builder = builder.json(body);
        }
        let started = Instant::now();
        let outcome = match builder.send().await {
            Ok(response) => {
                let status = response.status();
                let retry_after = retry_after(response.headers());
                match response.bytes().await {
                    Ok(bytes) => Ok((status, retry_after, bytes)),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        };
        let endpoint = endpoint_label(path);
        match outcome {
            Err(e) => {
                self.observe(method, endpoint, 0);
                tracing::debug!(%request, elapsed = ?started.elapsed(), error = %transport_reason(&e), "no response");
                // A refused connection never reached the API; anything later might have.
                let certainly_not_sent = e.is_connect();
                let reason = transport_reason(&e);
                if idempotence == Idempotence::CreateOnce && !certainly_not_sent {
                    return Err(Attempt {
                        error: Error::OutcomeUnknown { request, reason },
                        retryable: false,
                        retry_after: None,
                    });
                }
                Err(Attempt {
                    error: Error::Transport { request, reason },
                    retryable: true,
                    retry_after: None,
                })
            }
            Ok((status, retry_after, bytes)) => {
                self.observe(method, endpoint, status.as_u16());
                tracing::debug!(%request, status = status.as_u16(), elapsed = ?started.elapsed(), "response");
                classify(&request, status, retry_after, &bytes, idempotence)
            }
        }
    }

    fn observe(&self, method: &Method, endpoint: &str, status: u16) {
        if let Some(obs) = &self.inner.observer {
            obs.request(method.as_str(), endpoint, status);
        }
    }
}

/// Turns a response into an envelope or a classified failure.
fn classify<T: serde::de::DeserializeOwned>(
    request: &str,
    status: StatusCode,
    retry_after: Option<Duration>,
    bytes: &[u8],
    idempotence: Idempotence,
) -> Result<Envelope<T>, Attempt> {
    if !status.is_success() {
        return Err(failure(request, status, retry_after, bytes, idempotence));
    }
    match serde_json::from_slice::<Envelope<T>>(bytes) {
        Ok(env) if env.success != Some(false) => Ok(env),
        Ok(env) => Err(Attempt {
            error: Error::Api {
                request: request.to_owned(),
                status: status.as_u16(),
                errors: env.errors,
            },
            retryable: false,
            retry_after: None,
        }),
        Err(e) => Err(Attempt {
            error: Error::Decode {
                request: request.to_owned(),
                reason: e.to_string(),
            },
            retryable: false,
            retry_after: None,
        }),
    }
}

/// A failure status, classified for the retry loop.
fn failure(
    request: &str,
    status: StatusCode,
    retry_after: Option<Duration>,
    bytes: &[u8],
    idempotence: Idempotence,
) -> Attempt {
    let errors = serde_json::from_slice::<Envelope<serde::de::IgnoredAny>>(bytes)
        .map(|env| env.errors)
        .unwrap_or_default();
    let code = status.as_u16();
    let transient = code == 408 || code == 429 || status.is_server_error();
    let error = Error::Api {
        request: request.to_owned(),
        status: code,
        errors,
    };
    // A 429 is refused before anything happens, so even a create may be repeated.
    // Any other transient failure of a create may have created the policy.
    if idempotence == Idempotence::CreateOnce && transient && code != 429 {
        return Attempt {
            error: Error::OutcomeUnknown {
                request: request.to_owned(),
                reason: error.to_string(),
            },
            retryable: false,
            retry_after: None,
        };
    }
    Attempt {
        error,
        retryable: transient,
        retry_after,
    }
}

fn absorb<T: Listed>(seen: &mut HashSet<String>, items: &mut Vec<T>, page: Vec<T>) -> usize {
    let mut added = 0;
    for item in page {
        if item.key().is_none_or(|key| seen.insert(key.to_owned())) {
            items.push(item);
            added += 1;
        }
    }
    added
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    value.parse::<u64>().ok().map(Duration::from_secs)
}

fn transport_reason(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "response interrupted"
    } else {
        "request failed"
    };
    // The URL is left out on purpose: the error names the request already.
    let mut detail = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}

fn endpoint_label(path: &str) -> &'static str {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        [.., "tokens", "verify"] => "verify",
        [.., "access", "apps"] => "apps",
        [.., "access", "apps", _] => "app",
        [.., "access", "policies"] => "policies",
        [.., "access", "policies", _] => "policy",
        _ => "other",
    }
}

fn decode_app(path: &str, value: Value) -> Result<App, Error> {
    let kind = kind_of(&value);
    App::from_value(value).ok_or_else(|| Error::Decode {
        request: path.to_owned(),
        reason: format!("expected an app, got {kind}"),
    })
}

fn decode_policy(path: &str, value: Value) -> Result<Policy, Error> {
    let kind = kind_of(&value);
    Policy::from_value(value).ok_or_else(|| Error::Decode {
        request: path.to_owned(),
        reason: format!("expected a policy, got {kind}"),
    })
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object without an id",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!(
            "60/10s".parse::<Rate>().unwrap(),
            Rate {
                requests: 60,
                per: Duration::from_secs(10)
            }
        );
        assert!("0/10s".parse::<Rate>().is_err());
        assert!("sixty".parse::<Rate>().is_err());
    }

    #[test]
    fn endpoint_labels_have_low_cardinality() {
        assert_eq!(endpoint_label("/accounts/a/access/apps"), "apps");
        assert_eq!(endpoint_label("/accounts/a/access/apps/x"), "app");
        assert_eq!(endpoint_label("/accounts/a/access/policies/x"), "policy");
        assert_eq!(endpoint_label("/user/tokens/verify"), "verify");
    }

    #[test]
    fn debug_never_shows_the_token() {
        let client = Client::new(ClientConfig::new(
            "http://127.0.0.1:1",
            "acct",
            SecretString::from("super-secret-token"),
        ))
        .unwrap();
        let shown = format!("{client:?} {:?}", client.config());
        assert!(!shown.contains("super-secret-token"), "{shown}");
    }
}
