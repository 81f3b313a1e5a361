//! Sharing the account's rate limit with everyone else on it.
//!
//! NOTE (reference page, "Added after the first release", Rate limits): the 1,200
//! requests per 5 minutes are per user, shared with that user's dashboard sessions and
//! every other token, and going over blocks all of them with 429 for 5 minutes.
//! Responses carry `Ratelimit: "default";r=<remaining>;t=<seconds>` and
//! `Ratelimit-Policy: "default";q=<quota>;w=<window>`.
//!
//! So the client keeps an estimate of the budget left (the last reported `r`, minus the
//! requests sent since) and, once it is down to a reserve, pauses every request until
//! the window resets: mcp-access never spends the last of the budget, and never causes
//! the block for the people it shares it with. A 429 still happens when someone else
//! spends the budget; then every request pauses for the wait (see `Client::send`).

use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::time::Instant;

/// What the rate-limit headers of one response said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RateHeaders {
    /// Requests left in the current window.
    pub remaining: u32,
    /// Time until the window resets.
    pub reset: Duration,
    /// Requests allowed per window, when `Ratelimit-Policy` says.
    pub quota: Option<u32>,
}

/// Reads `Ratelimit` (`"default";r=50;t=30`) and `Ratelimit-Policy`
/// (`"default";q=1200;w=300`); also the older draft's separate `RateLimit-Remaining`,
/// `RateLimit-Reset` and `RateLimit-Limit`. `None` when no remaining budget is given.
///
/// NOTE (reference page, "Rate limits and retries"): header names have changed over
/// time, so both forms are read and neither is required.
pub(super) fn parse(headers: &HeaderMap) -> Option<RateHeaders> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let param = |value: &str, key: &str| -> Option<u64> {
        value.split([';', ',']).find_map(|part| {
            let (k, v) = part.trim().split_once('=')?;
            (k.trim() == key).then(|| v.trim().trim_matches('"').parse().ok())?
        })
    };
    let number = |name: &str| text(name).and_then(|v| v.trim().parse::<u64>().ok());
    let (remaining, reset) = match text("ratelimit") {
        Some(v) => (param(v, "r")?, param(v, "t").unwrap_or(0)),
        None => (
            number("ratelimit-remaining")?,
            number("ratelimit-reset").unwrap_or(0),
        ),
    };
    let quota = text("ratelimit-policy")
        .and_then(|v| param(v, "q"))
        .or_else(|| number("ratelimit-limit"));
    Some(RateHeaders {
        remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
        reset: Duration::from_secs(reset),
        quota: quota.and_then(|q| u32::try_from(q).ok()),
    })
}

/// Why a request waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pause {
    /// Cloudflare answered 429; every request waits it out.
    RateLimited,
    /// The budget left is down to the reserve; wait for the window to reset.
    Reserve {
        /// The estimated budget left.
        remaining: i64,
        /// The reserve kept for others.
        reserve: i64,
    },
}

/// The shared view of the account's budget; one per client.
#[derive(Debug)]
pub(super) struct Pacer {
    state: Mutex<State>,
    /// Requests the client may have in flight: the reserve never goes below it, since
    /// they all may be sent on one stale estimate.
    concurrency: i64,
}

#[derive(Debug, Default)]
struct State {
    /// No request is sent before this.
    paused_until: Option<Instant>,
    why: Option<Pause>,
    /// The estimated budget left in the current window.
    remaining: Option<i64>,
    /// When the current window resets.
    reset_at: Option<Instant>,
    /// The window's quota, when reported.
    quota: Option<u32>,
}

/// The quota assumed when `Ratelimit-Policy` is absent: Cloudflare's 1,200.
const DEFAULT_QUOTA: u32 = 1200;

impl Pacer {
    pub(super) fn new(concurrency: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            concurrency: i64::try_from(concurrency.max(1)).unwrap_or(i64::MAX),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The part of the budget never spent: a tenth of the quota, and at least one more
    /// than the requests that may be in flight.
    fn reserve(&self, quota: Option<u32>) -> i64 {
        (i64::from(quota.unwrap_or(DEFAULT_QUOTA)) / 10).max(self.concurrency + 1)
    }

    /// Claims a slot for one request: `None` to send it now (counted against the
    /// estimate), or how long to wait first and why.
    pub(super) fn claim(&self, now: Instant) -> Option<(Instant, Pause)> {
        let mut s = self.lock();
        if let Some(until) = s.paused_until.filter(|&u| u > now) {
            return Some((until, s.why.unwrap_or(Pause::RateLimited)));
        }
        s.paused_until = None;
        if s.reset_at.is_some_and(|r| r <= now) {
            // A new window: the budget is unknown until the next response says.
            s.remaining = None;
            s.reset_at = None;
        }
        let reserve = self.reserve(s.quota);
        match (s.remaining, s.reset_at) {
            (Some(remaining), Some(reset_at)) if remaining <= reserve => {
                let why = Pause::Reserve { remaining, reserve };
                s.paused_until = Some(reset_at);
                s.why = Some(why);
                Some((reset_at, why))
            }
            (Some(remaining), _) => {
                s.remaining = Some(remaining - 1);
                None
            }
            _ => None,
        }
    }

    /// Takes in what a response's headers said.
    pub(super) fn observe(&self, headers: RateHeaders, now: Instant) {
        let mut s = self.lock();
        s.remaining = Some(i64::from(headers.remaining));
        // NOTE: `t` is whole seconds; the window may end up to a second later.
        s.reset_at = Some(now + headers.reset + Duration::from_millis(500));
        if headers.quota.is_some() {
            s.quota = headers.quota;
        }
    }

    /// Holds every request until `until` (after a 429).
    pub(super) fn pause_until(&self, until: Instant) {
        let mut s = self.lock();
        if s.paused_until.is_none_or(|u| u < until) {
            s.paused_until = Some(until);
            s.why = Some(Pause::RateLimited);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn parses_both_header_forms() {
        let h = headers(&[
            ("ratelimit", "\"default\";r=50;t=30"),
            ("ratelimit-policy", "\"default\";q=1200;w=300"),
        ]);
        assert_eq!(
            parse(&h),
            Some(RateHeaders {
                remaining: 50,
                reset: Duration::from_secs(30),
                quota: Some(1200)
            })
        );
        let old = headers(&[
            ("ratelimit-remaining", "7"),
            ("ratelimit-reset", "3"),
            ("ratelimit-limit", "100"),
        ]);
        assert_eq!(parse(&old).unwrap().quota, Some(100));
        assert_eq!(parse(&HeaderMap::new()), None);
        assert_eq!(parse(&headers(&[("ratelimit", "garbage")])), None);
    }

    #[test]
    fn pauses_at_the_reserve_until_the_window_resets() {
        let pacer = Pacer::new(4);
        let now = Instant::now();
        assert!(pacer.claim(now).is_none(), "unknown budget: go");
        pacer.observe(
            RateHeaders {
                remaining: 12,
                reset: Duration::from_secs(10),
                quota: Some(100),
            },
            now,
        );
        // Reserve is max(100 / 10, 4 + 1) = 10: two requests go, the third waits.
        assert!(pacer.claim(now).is_none());
        assert!(pacer.claim(now).is_none());
        let (until, why) = pacer.claim(now).expect("must pause");
        assert!(until >= now + Duration::from_secs(10));
        assert!(matches!(why, Pause::Reserve { reserve: 10, .. }));
        assert!(pacer.claim(until + Duration::from_millis(1)).is_none());
    }

    #[test]
    fn a_429_pauses_everyone() {
        let pacer = Pacer::new(4);
        let now = Instant::now();
        pacer.pause_until(now + Duration::from_secs(2));
        assert_eq!(pacer.claim(now).unwrap().1, Pause::RateLimited);
        assert!(pacer.claim(now + Duration::from_secs(3)).is_none());
    }
}
