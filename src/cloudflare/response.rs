//! One HTTP attempt's outcome: the body read under a size cap, then classified into an
//! envelope or a failure the retry loop knows how to treat.

use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::error::{ApiMessage, Error, Permission, hint_for};

/// The response envelope, with `result` parsed straight into what the caller needs
/// (list pages into slim apps, so a large account is never held as a full JSON tree).
#[derive(Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub(super) struct Envelope<T = Value> {
    #[serde(default)]
    pub success: Option<bool>,
    #[serde(default)]
    pub errors: Vec<ApiMessage>,
    #[serde(default = "Option::default")]
    pub result: Option<T>,
    #[serde(default)]
    pub result_info: Option<super::pagination::ResultInfo>,
}

/// How a failed attempt may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Retry {
    /// Not at all.
    Never,
    /// No connection was made (refused, DNS, TLS): a short budget, then "check the URL".
    Connect,
    /// A response stopped arriving (read timeout, cut body): retried, and said so.
    Stalled,
    /// 408 or 5xx, or a connection lost mid-request: retried within the deadline.
    Transient,
    /// 429: every request waits, at least a second, longer each time.
    RateLimited,
}

/// One failed attempt, classified for the retry loop.
pub(super) struct Attempt {
    pub error: Error,
    pub retry: Retry,
    /// `Retry-After`, when the server sent one.
    pub retry_after: Option<Duration>,
}

impl Attempt {
    pub fn fatal(error: Error) -> Self {
        Self {
            error,
            retry: Retry::Never,
            retry_after: None,
        }
    }
}

/// How a request may be repeated.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Idempotence {
    /// GET, PUT, DELETE: repeating them is harmless.
    Idempotent,
    /// POST: only repeated when it certainly did not happen (429, connect failure).
    CreateOnce,
}

/// What the caller needs to know to classify: who asks, for what, with what rights.
pub(super) struct Context<'a> {
    pub request: &'a str,
    pub idempotence: Idempotence,
    pub permission: Permission,
    pub account_id: &'a str,
}

/// A body that could not be read whole.
pub(super) enum BodyError {
    /// Past the cap; reading stopped there.
    TooLarge,
    /// The connection failed or stalled mid-body.
    Transport(reqwest::Error),
}

/// Reads the body, never holding more than `cap` bytes: a `Content-Length` past the cap
/// is refused before reading, and a body without one is counted as it streams in.
pub(super) async fn read_body(
    response: &mut reqwest::Response,
    cap: u64,
) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > cap) {
        return Err(BodyError::TooLarge);
    }
    let hint = response.content_length().unwrap_or(0).min(1 << 20);
    let mut body = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if (body.len() + chunk.len()) as u64 > cap {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Turns a response into an envelope or a classified failure.
pub(super) fn classify<T: serde::de::DeserializeOwned>(
    ctx: &Context<'_>,
    status: StatusCode,
    retry_after: Option<Duration>,
    bytes: &[u8],
) -> Result<Envelope<T>, Attempt> {
    if !status.is_success() {
        return Err(failure(ctx, status, retry_after, bytes));
    }
    match serde_json::from_slice::<Envelope<T>>(bytes) {
        Ok(env) if env.success != Some(false) => Ok(env),
        Ok(env) => Err(Attempt::fatal(api_error(ctx, status, env.errors))),
        Err(e) => Err(Attempt::fatal(Error::Decode {
            request: ctx.request.to_owned(),
            reason: e.to_string(),
        })),
    }
}

fn api_error(ctx: &Context<'_>, status: StatusCode, errors: Vec<ApiMessage>) -> Error {
    Error::Api {
        request: ctx.request.to_owned(),
        status: status.as_u16(),
        hint: hint_for(status.as_u16(), &errors, ctx.permission, ctx.account_id),
        errors,
    }
}

/// A failure status, classified for the retry loop.
fn failure(
    ctx: &Context<'_>,
    status: StatusCode,
    retry_after: Option<Duration>,
    bytes: &[u8],
) -> Attempt {
    let errors = serde_json::from_slice::<Envelope<serde::de::IgnoredAny>>(bytes)
        .map(|env| env.errors)
        .unwrap_or_default();
    let code = status.as_u16();
    let error = api_error(ctx, status, errors);
    let retry = match code {
        429 => Retry::RateLimited,
        408 => Retry::Transient,
        _ if status.is_server_error() => Retry::Transient,
        _ => Retry::Never,
    };
    // A 429 is refused before anything happens, so even a create may be repeated.
    // Any other transient failure of a create may have created the policy.
    if ctx.idempotence == Idempotence::CreateOnce && retry == Retry::Transient {
        return Attempt::fatal(Error::OutcomeUnknown {
            request: ctx.request.to_owned(),
            reason: error.to_string(),
        });
    }
    Attempt {
        error,
        retry,
        retry_after,
    }
}

/// A request that got no (whole) response.
pub(super) fn transport_failure(ctx: &Context<'_>, e: &reqwest::Error, in_body: bool) -> Attempt {
    let reason = transport_reason(e, in_body);
    // A refused connection never reached the API; anything later might have.
    let not_sent = e.is_connect();
    if ctx.idempotence == Idempotence::CreateOnce && !not_sent {
        return Attempt::fatal(Error::OutcomeUnknown {
            request: ctx.request.to_owned(),
            reason,
        });
    }
    let retry = if not_sent {
        Retry::Connect
    } else if in_body || e.is_timeout() {
        Retry::Stalled
    } else {
        Retry::Transient
    };
    Attempt {
        error: Error::Transport {
            request: ctx.request.to_owned(),
            reason,
        },
        retry,
        retry_after: None,
    }
}

/// A 3xx: never followed.
pub(super) fn redirect(
    ctx: &Context<'_>,
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
) -> Attempt {
    let location = headers.get(reqwest::header::LOCATION).map_or_else(
        || "(none)".to_owned(),
        |v| String::from_utf8_lossy(v.as_bytes()).into_owned(),
    );
    Attempt::fatal(Error::Redirect {
        request: ctx.request.to_owned(),
        status: status.as_u16(),
        location,
    })
}

/// `Retry-After` in whole seconds (the form Cloudflare sends).
pub(super) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    value.parse::<u64>().ok().map(Duration::from_secs)
}

fn transport_reason(e: &reqwest::Error, in_body: bool) -> String {
    let kind = if in_body && e.is_timeout() {
        "the response stalled (no data within the read timeout)"
    } else if in_body {
        "the response was cut short"
    } else if e.is_timeout() && e.is_connect() {
        "connection timed out"
    } else if e.is_timeout() {
        "timed out waiting for the response"
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
