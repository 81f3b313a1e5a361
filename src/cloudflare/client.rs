//! The HTTP client for the Access API: bearer auth, the response envelope, bounded
//! responses, client-side rate limiting and pacing on the account's shared budget,
//! bounded concurrency and retries. Pagination is in `pagination`.
//!
//! NOTE (reference page, "Rate limits and retries"): the account allows 1,200 requests
//! per 5 minutes across dashboard and API. The limiter defaults to a burst of 200 and a
//! sustained 1,000 per 5 minutes, so that even a full burst followed by steady traffic
//! stays under 1,200 in any 5-minute window; on top of it, `pacing` keeps a reserve of
//! what the API says is left, for the others sharing the budget.
//!
//! Retries: 5xx, 408 and stalled responses are retried with exponential backoff and
//! jitter within `retry_deadline`; a 429 pauses every request for at least a second,
//! longer each time, and at least its `Retry-After`; a connection that cannot be made
//! (refused, DNS, TLS) gets a short budget of its own, then an error naming the URL.
//! Every retry after the first, and every stall or 429, is logged at the default
//! verbosity, so a waiting job always says what it waits for. No redirect is followed.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use governor::{DefaultDirectRateLimiter, Quota};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::error::{Error, Permission};
use super::pacing::{self, Pacer, Pause};
use super::pagination::DEFAULT_MAX_LIST_ITEMS;
use super::response::{self, Attempt, BodyError, Context, Envelope, Idempotence, Retry};
use super::types::{App, AppSummary, Policy};
use crate::redact::Redactor;

/// The public API's base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.cloudflare.com/client/v4";

/// The default cap on one response body: 64 MiB, some 30 times a 10,000-app list page
/// of 1,000 apps.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 64 << 20;

/// How long connection failures (refused, DNS, TLS) are retried before the client says
/// the API cannot be reached: a few tries, not the long deadline meant for 429s and 5xx.
pub const CONNECT_RETRY_BUDGET: Duration = Duration::from_secs(10);

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

/// Parses a size: `64MiB`, `1GiB`, `512KiB`, `100MB`, `1000` (bytes).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a size like 64MiB"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        other => {
            return Err(format!(
                "`{s}`: unknown unit `{other}` (use B, KiB, MiB, GiB)"
            ));
        }
    };
    n.checked_mul(factor)
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("`{s}` must be above zero and below 16 EiB"))
}

/// Shows a byte count the way [`parse_size`] reads it back.
pub fn format_size(n: u64) -> String {
    match n {
        n if n >= 1 << 30 && n % (1 << 30) == 0 => format!("{} GiB", n >> 30),
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

/// True for a Cloudflare account id: 32 hexadecimal characters.
pub fn is_account_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Everything the client needs; built from the CLI's validated config.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// API base, e.g. [`DEFAULT_BASE_URL`] or a simulator's URL.
    pub base_url: String,
    /// The Cloudflare account id (32 hex characters; checked when the client is built).
    pub account_id: String,
    /// The API token. Debug prints it redacted.
    pub token: SecretString,
    /// Which permission the command needs: named in the hint of an auth error.
    pub permission: Permission,
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Timeout of one HTTP attempt, body included.
    pub request_timeout: Duration,
    /// The longest silence while waiting for or reading a response; a stalled response
    /// is a retryable error.
    pub read_timeout: Duration,
    /// Total time one logical request may spend retrying, waits included.
    pub retry_deadline: Duration,
    /// Largest response body read; a larger one is an error, never buffered past this.
    pub max_response_bytes: u64,
    /// Most items one list may hold; a list (or a reported total) past it is an error.
    pub max_list_items: usize,
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
            permission: Permission::Read,
            concurrency: 4,
            request_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(15),
            retry_deadline: Duration::from_secs(6 * 60),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_list_items: DEFAULT_MAX_LIST_ITEMS,
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
    pacer: Pacer,
    /// The `per_page` that worked, per list endpoint, for the rest of the process.
    page_sizes: Mutex<HashMap<&'static str, u32>>,
    redactor: Redactor,
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

impl Client {
    /// Builds a client. Fails when the account id cannot be one, or the TLS backend
    /// cannot start.
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
        if !is_account_id(&config.account_id) {
            return Err(Error::InvalidAccountId {
                account_id: config.account_id.clone(),
            });
        }
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .read_timeout(config.read_timeout)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(5)))
            // NOTE: Cloudflare's API does not redirect; following one would re-send
            // a policy body to wherever the Location points.
            .redirect(reqwest::redirect::Policy::none())
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
                pacer: Pacer::new(config.concurrency),
                page_sizes: Mutex::new(HashMap::new()),
                redactor: Redactor::new([config.token.expose_secret()]),
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

    /// One app, fresh.
    pub async fn get_app(&self, id: &str) -> Result<App, Error> {
        let path = self.account_path(&format!("/access/apps/{id}"));
        let env = self.request(Method::GET, &path, None).await?;
        decode_app(&path, env.result.unwrap_or_default())
    }

    /// Replaces an app. `body` must carry every field to keep (see `App::put_body`).
    pub async fn put_app(&self, id: &str, body: &Value) -> Result<App, Error> {
        let path = self.account_path(&format!("/access/apps/{id}"));
        let env = self.request(Method::PUT, &path, Some(body)).await?;
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
        let env = self.request(Method::GET, &path, None).await?;
        decode_policy(&path, env.result.unwrap_or_default())
    }

    /// Replaces a reusable policy.
    pub async fn put_policy(&self, id: &str, body: &Value) -> Result<Policy, Error> {
        let path = self.account_path(&format!("/access/policies/{id}"));
        let env = self.request(Method::PUT, &path, Some(body)).await?;
        decode_policy(&path, env.result.unwrap_or_default())
    }

    /// Deletes a reusable policy. A 404 with 12135 (not found) counts as done: the
    /// policy is gone either way. Any other 404 (7003, a wrong URL) is an error.
    pub async fn delete_policy(&self, id: &str) -> Result<(), Error> {
        let path = self.account_path(&format!("/access/policies/{id}"));
        match self.request(Method::DELETE, &path, None).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Converts an app's legacy (app-scoped) policy to a reusable one; it keeps its id,
    /// rules and precedence on the app.
    ///
    /// NOTE (Cloudflare docs, policy management, "Convert a legacy policy"): "make a
    /// `PUT` request with an empty request body" to
    /// `/accounts/{account_id}/access/apps/{app_id}/policies/{policy_id}/make_reusable`.
    /// The response's shape is not settled (one schema says a list of policies), so it
    /// is not read: callers read the policy again.
    pub async fn make_reusable(&self, app_id: &str, policy_id: &str) -> Result<(), Error> {
        let path = self.account_path(&format!(
            "/access/apps/{app_id}/policies/{policy_id}/make_reusable"
        ));
        self.send::<serde::de::IgnoredAny>(Method::PUT, &path, &[], None, Idempotence::Idempotent)
            .await
            .map(|_| ())
    }

    /// The `per_page` to ask `endpoint` for: the one that worked last, else the
    /// configured one.
    pub(super) fn page_size(&self, endpoint: &'static str) -> u32 {
        let sizes = self
            .inner
            .page_sizes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sizes
            .get(endpoint)
            .copied()
            .unwrap_or(self.inner.config.page_size.max(1))
    }

    pub(super) fn remember_page_size(&self, endpoint: &'static str, size: u32) {
        let mut sizes = self
            .inner
            .page_sizes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sizes.insert(endpoint, size);
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Envelope, Error> {
        self.send(method, path, &[], body, Idempotence::Idempotent)
            .await
    }

    /// One logical request: attempts with retries, bounded by the retry deadline (and
    /// for connection failures by [`CONNECT_RETRY_BUDGET`]). Errors leave it with the
    /// token scrubbed from their text.
    pub(super) async fn send<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        idempotence: Idempotence,
    ) -> Result<Envelope<T>, Error> {
        self.send_with_retries(method, path, query, body, idempotence)
            .await
            .map_err(|e| e.redacted(&self.inner.redactor))
    }

    async fn send_with_retries<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        idempotence: Idempotence,
    ) -> Result<Envelope<T>, Error> {
        let request = format!("{method} {path}");
        let deadline = self.inner.config.retry_deadline;
        let started = Instant::now();
        let deadline_at = started + deadline;
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(250))
            .with_max_delay(Duration::from_secs(30))
            .with_jitter()
            .without_max_times()
            .build();
        // NOTE (issue 11, "Polite 429s"): at least a second after a 429, then longer,
        // whatever `Retry-After` says (a `Retry-After: 0` must not make us loop hot).
        let mut throttle = ExponentialBuilder::default()
            .with_min_delay(Duration::from_secs(1))
            .with_max_delay(Duration::from_secs(60))
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build();
        let mut connect_failing_since: Option<Instant> = None;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            self.pace(&request, attempts, deadline_at).await?;
            let attempt_started = Instant::now();
            let failed = match self
                .attempt(&method, path, query, body, idempotence, &request)
                .await
            {
                Ok(env) => return Ok(env),
                Err(failed) => failed,
            };
            let now = Instant::now();
            let planned = match failed.retry {
                Retry::Never => return Err(failed.error),
                Retry::RateLimited => throttle.next().unwrap_or(Duration::from_secs(1)),
                _ => backoff.next().unwrap_or(Duration::from_millis(250)),
            };
            let wait = failed
                .retry_after
                .map_or(planned, |after| after.max(planned));
            let wait = Duration::from_millis(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX));
            if failed.retry == Retry::Connect {
                let since = *connect_failing_since.get_or_insert(attempt_started);
                if now + wait > since + CONNECT_RETRY_BUDGET || now + wait > deadline_at {
                    let elapsed = Duration::from_secs(now.duration_since(started).as_secs());
                    let reason = match failed.error {
                        Error::Transport { reason, .. } => reason,
                        other => other.to_string(),
                    };
                    return Err(Error::Unreachable {
                        url: self.inner.config.base_url.clone(),
                        request,
                        reason,
                        attempts,
                        elapsed,
                    });
                }
            } else {
                connect_failing_since = None;
            }
            if now + wait > deadline_at {
                return Err(Error::DeadlineExceeded {
                    request,
                    attempts,
                    deadline,
                    last: Box::new(failed.error),
                });
            }
            if failed.retry == Retry::RateLimited {
                self.inner.pacer.pause_until(now + wait);
            }
            let message = format!(
                "retrying {request} in {}: {} (attempt {})",
                humantime::format_duration(wait),
                reason_of(&failed.error),
                attempts + 1
            );
            let loud = attempts >= 2 || matches!(failed.retry, Retry::Stalled | Retry::RateLimited);
            if loud {
                tracing::warn!("{}", self.inner.redactor.scrub(&message));
            } else {
                tracing::debug!("{}", self.inner.redactor.scrub(&message));
            }
            if let Some(obs) = &self.inner.observer {
                obs.retry();
            }
            tokio::time::sleep_until(now + wait).await;
        }
    }

    /// Waits while the account's budget is paused (after a 429) or down to its
    /// reserve. A wait past the deadline is an error rather than a long silence.
    async fn pace(&self, request: &str, attempts: u32, deadline_at: Instant) -> Result<(), Error> {
        let mut said = None;
        loop {
            let now = Instant::now();
            let Some((until, why)) = self.inner.pacer.claim(now) else {
                return Ok(());
            };
            let reason = match why {
                Pause::RateLimited => "Cloudflare rate-limited this user (429)".to_owned(),
                Pause::Reserve { remaining, reserve } => format!(
                    "the account's API budget is nearly spent ({remaining} requests left, {reserve} kept for others sharing it)"
                ),
            };
            if until > deadline_at {
                return Err(Error::DeadlineExceeded {
                    request: request.to_owned(),
                    attempts: attempts.saturating_sub(1),
                    deadline: self.inner.config.retry_deadline,
                    last: Box::new(Error::Transport {
                        request: request.to_owned(),
                        reason: format!(
                            "{reason}; waiting {} would pass the deadline",
                            humantime::format_duration(Duration::from_secs(
                                until.duration_since(now).as_secs()
                            ))
                        ),
                    }),
                });
            }
            if matches!(why, Pause::Reserve { .. }) && said != Some(until) {
                tracing::warn!(
                    "{reason}: pausing {request} for {} until the budget resets",
                    humantime::format_duration(Duration::from_secs(
                        until.duration_since(now).as_secs().max(1)
                    ))
                );
                said = Some(until);
            }
            tokio::time::sleep_until(until).await;
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
        request: &str,
    ) -> Result<Envelope<T>, Attempt> {
        let ctx = Context {
            request,
            idempotence,
            permission: self.inner.config.permission,
            account_id: &self.inner.config.account_id,
        };
        let _permit = self.inner.in_flight.acquire().await.map_err(|_| {
            Attempt::fatal(Error::Transport {
                request: request.to_owned(),
                reason: "client shut down".into(),
            })
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
        let endpoint = endpoint_label(path);
        let mut response = match builder.send().await {
            Ok(response) => response,
            Err(e) => {
                self.observe(method, endpoint, 0);
                tracing::debug!(%request, elapsed = ?started.elapsed(), error = %e, "no response");
                return Err(response::transport_failure(&ctx, &e, false));
            }
        };
        let status = response.status();
        self.observe(method, endpoint, status.as_u16());
        if let Some(rate) = pacing::parse(response.headers()) {
            self.inner.pacer.observe(rate, Instant::now());
        }
        if status.is_redirection() {
            return Err(response::redirect(&ctx, status, response.headers()));
        }
        let retry_after = response::retry_after(response.headers());
        let bytes = match response::read_body(&mut response, self.inner.config.max_response_bytes)
            .await
        {
            Ok(bytes) => bytes,
            Err(BodyError::TooLarge) => {
                return Err(Attempt::fatal(Error::ResponseTooLarge {
                    request: request.to_owned(),
                    limit: self.inner.config.max_response_bytes,
                }));
            }
            Err(BodyError::Transport(e)) => {
                tracing::debug!(%request, elapsed = ?started.elapsed(), error = %e, "response body failed");
                return Err(response::transport_failure(&ctx, &e, true));
            }
        };
        tracing::debug!(%request, status = status.as_u16(), bytes = bytes.len(), elapsed = ?started.elapsed(), "response");
        response::classify(&ctx, status, retry_after, &bytes)
    }

    fn observe(&self, method: &Method, endpoint: &str, status: u16) {
        if let Some(obs) = &self.inner.observer {
            obs.request(method.as_str(), endpoint, status);
        }
    }
}

/// The short reason of a failed attempt, for the retry log line.
fn reason_of(e: &Error) -> String {
    match e {
        Error::Transport { reason, .. } => reason.clone(),
        Error::Api { status, errors, .. } => match errors.first() {
            Some(first) => format!(
                "HTTP {status}, Cloudflare error {}: {}",
                first.code, first.message
            ),
            None => format!("HTTP {status}"),
        },
        other => other.to_string(),
    }
}

pub(super) fn endpoint_label(path: &str) -> &'static str {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        [.., "tokens", "verify"] => "verify",
        [.., "access", "apps"] => "apps",
        [.., "access", "apps", _] => "app",
        [.., "access", "policies"] => "policies",
        [.., "access", "policies", _] => "policy",
        [.., "policies", _, "make_reusable"] => "make_reusable",
        _ => "other",
    }
}

pub(super) fn decode_app(path: &str, value: Value) -> Result<App, Error> {
    let kind = kind_of(&value);
    App::from_value(value).ok_or_else(|| Error::Decode {
        request: path.to_owned(),
        reason: format!("expected an app, got {kind}"),
    })
}

pub(super) fn decode_policy(path: &str, value: Value) -> Result<Policy, Error> {
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
    fn account_ids_and_sizes() {
        assert!(is_account_id("0123456789abcdef0123456789ABCDEF"));
        assert!(!is_account_id("acct"));
        assert!(!is_account_id("0123456789abcdef0123456789abcdeg"));
        let err = Client::new(ClientConfig::new(
            "http://127.0.0.1:1",
            "my-account",
            SecretString::from("t"),
        ))
        .unwrap_err();
        assert!(err.to_string().contains("32 hexadecimal"), "{err}");
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("0").is_err() && parse_size("big").is_err());
        assert_eq!(format_size(64 << 20), "64 MiB");
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
            "0123456789abcdef0123456789abcdef",
            SecretString::from("super-secret-token"),
        ))
        .unwrap();
        let shown = format!("{client:?} {:?}", client.config());
        assert!(!shown.contains("super-secret-token"), "{shown}");
    }
}
