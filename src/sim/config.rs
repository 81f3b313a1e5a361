//! How a simulator behaves: account, token, page caps, rate limit and injected faults.
//!
//! Rate limits and faults parse from the short strings `sim serve` takes on its command
//! line (`"1200/300s"`, `"error=0.1,reset=0.05,seed=7"`).

use std::str::FromStr;
use std::time::Duration;

use super::SimError;

/// Everything that shapes a simulator, apart from the account's contents (a [`super::Seed`]).
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The one account this simulator serves; other account ids get 403 / 9109.
    pub account_id: String,
    /// The bearer token every request must carry.
    pub token: String,
    /// Server-side maximum `per_page` when listing apps.
    pub apps_page_cap: usize,
    /// Server-side maximum `per_page` when listing reusable policies.
    pub policies_page_cap: usize,
    /// Requests allowed per token and window; `None` disables rate limiting.
    pub rate_limit: Option<RateLimit>,
    /// Injected latency and failures.
    pub faults: Faults,
    /// Store policy rules the way an API that normalises them might: empty lists as
    /// `null` or absent, rules and keys reordered, empty selectors added. Off by
    /// default: whether (and how) the real API normalises is not known (ASSUMED).
    pub normalise_rules: bool,
    /// Return write-only secrets (`scim_config.authentication`'s `password`, `token`,
    /// `client_secret`; an OIDC SaaS app's `client_secret`) on reads. Off by default:
    /// the simulator assumes the worst, that reads never return them (and so a PUT of
    /// what was read clears them).
    pub reveal_secrets: bool,
    /// Reusable policies `GET /access/policies` leaves out (still linked and served by
    /// id): a list that misses some, for the inventory's link invariant.
    pub unlisted_policies: Vec<String>,
    /// Reusable policies the account may have: a create (or `make_reusable`) past it is
    /// refused (ASSUMED: 400 / 12130). `None`: no limit. Seeds are not held to it.
    pub policy_limit: Option<usize>,
    /// Keep every successful write with its body and result, in the order the state
    /// changed ([`super::Simulator::write_log`]), so a test can replay an apply write
    /// by write. Off by default: a large account's log would be large.
    pub record_writes: bool,
    /// Requests another client of the same user spends at the start of every
    /// rate-limit window (so this one gets only the rest). 0: the budget is ours.
    pub rate_limit_spent: u32,
    /// Deliberate misbehaviour (lists that lie, hostile responses); none by default.
    pub misbehave: super::Misbehaviour,
}

/// Default `per_page` of `GET /access/apps` when the client sends none.
///
/// NOTE: ASSUMED. The reference says the apps maximum is not known and the server may
/// give fewer than asked; 25 is a common Cloudflare list default and small enough that
/// a client which forgets to paginate is caught by the demo account plus a few apps.
pub const APPS_DEFAULT_PER_PAGE: usize = 25;

/// Default `per_page` of `GET /access/policies` ("Policies: default `per_page` 100").
pub const POLICIES_DEFAULT_PER_PAGE: usize = 100;

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            account_id: "0123456789abcdef0123456789abcdef".to_owned(),
            token: "sim-token".to_owned(),
            apps_page_cap: 1000,
            // NOTE: "Policies: default per_page 100, max 1000."
            policies_page_cap: 1000,
            // NOTE: "1,200 requests per 5 minutes per user".
            rate_limit: Some(RateLimit {
                requests: 1200,
                window: Duration::from_secs(300),
            }),
            faults: Faults::default(),
            normalise_rules: false,
            reveal_secrets: false,
            unlisted_policies: Vec::new(),
            // NOTE (Access account limits): "500 reusable policies" per account.
            policy_limit: Some(500),
            record_writes: false,
            rate_limit_spent: 0,
            misbehave: super::Misbehaviour::default(),
        }
    }
}

/// A fixed-window request budget per token: `requests` per `window`.
///
/// NOTE: "Going over blocks calls for the rest of the window with HTTP 429", so the
/// window is fixed (it starts with the first request), not sliding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed in one window.
    pub requests: u32,
    /// Length of the window.
    pub window: Duration,
}

impl FromStr for RateLimit {
    type Err = SimError;

    /// Parses `REQUESTS/WINDOW`, e.g. `1200/300s`, `60/10s`, `1200/5m`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| SimError::InvalidRateLimit {
            input: s.to_owned(),
            reason: reason.to_owned(),
        };
        let (requests, window) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| bad("expected REQUESTS/WINDOW, e.g. 1200/300s"))?;
        let requests: u32 = requests
            .trim()
            .parse()
            .map_err(|_| bad("REQUESTS must be a whole number"))?;
        let window = humantime::parse_duration(window.trim())
            .map_err(|e| bad(&format!("WINDOW is not a duration like 300s ({e})")))?;
        if requests == 0 || window.is_zero() {
            return Err(bad("REQUESTS and WINDOW must be greater than zero"));
        }
        Ok(Self { requests, window })
    }
}

/// Injected latency and failures, drawn per request from one (optionally seeded) RNG.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Added to every response.
    pub latency: Duration,
    /// A uniformly random extra delay in `[0, jitter]` added to every response.
    pub jitter: Duration,
    /// Fraction of requests answered 500, 502 or 503 before touching state.
    pub error_rate: f64,
    /// Fraction of requests whose connection is aborted without a response (nothing applied).
    pub reset_rate: f64,
    /// Fraction of writes (POST, PUT, DELETE) that are applied but whose response is lost.
    pub lost_response_rate: f64,
    /// Fraction of requests answered only after `slow_delay`.
    pub slow_rate: f64,
    /// How long a slow response takes; meant to be longer than the client's timeout.
    pub slow_delay: Duration,
    /// Seed for the fault RNG, for reproducible runs.
    pub seed: Option<u64>,
}

/// `slow_delay` when `slow=RATE` is given without `:DELAY`.
pub const DEFAULT_SLOW_DELAY: Duration = Duration::from_secs(60);

impl Faults {
    /// True when no fault and no delay is configured.
    pub fn is_none(&self) -> bool {
        self.latency.is_zero()
            && self.jitter.is_zero()
            && self.error_rate <= 0.0
            && self.reset_rate <= 0.0
            && self.lost_response_rate <= 0.0
            && self.slow_rate <= 0.0
    }
}

impl FromStr for Faults {
    type Err = SimError;

    /// Parses a comma-separated list of `key=value`:
    /// `latency=50ms,jitter=10ms,error=0.1,reset=0.05,lost=0.1,slow=0.02:40s,seed=7`.
    /// An empty string or `none` means no faults.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut faults = Faults::default();
        let trimmed = s.trim();
        if trimmed.is_empty() || trimmed.eq_ignore_ascii_case("none") {
            return Ok(faults);
        }
        for item in trimmed.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let bad = |reason: String| SimError::InvalidFaults {
                input: s.to_owned(),
                reason: format!("`{item}`: {reason}"),
            };
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| bad("expected key=value".to_owned()))?;
            let value = value.trim();
            let duration = |v: &str| {
                humantime::parse_duration(v)
                    .map_err(|e| bad(format!("`{v}` is not a duration like 50ms ({e})")))
            };
            let rate = |v: &str| match v.parse::<f64>() {
                Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
                _ => Err(bad(format!("`{v}` is not a fraction between 0 and 1"))),
            };
            match key.trim() {
                "latency" => faults.latency = duration(value)?,
                "jitter" => faults.jitter = duration(value)?,
                "error" => faults.error_rate = rate(value)?,
                "reset" => faults.reset_rate = rate(value)?,
                "lost" => faults.lost_response_rate = rate(value)?,
                "slow" => {
                    let (r, d) = match value.split_once(':') {
                        Some((r, d)) => (r, duration(d)?),
                        None => (value, DEFAULT_SLOW_DELAY),
                    };
                    faults.slow_rate = rate(r)?;
                    faults.slow_delay = d;
                }
                "seed" => {
                    faults.seed = Some(
                        value
                            .parse()
                            .map_err(|_| bad(format!("`{value}` is not a whole number")))?,
                    );
                }
                other => {
                    return Err(bad(format!(
                        "unknown key `{other}` (known: latency, jitter, error, reset, lost, slow, seed)"
                    )));
                }
            }
        }
        Ok(faults)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_fault_spec() {
        let f: Faults =
            "latency=50ms,jitter=10ms,error=0.1,reset=0.05,lost=0.1,slow=0.02:40s,seed=7"
                .parse()
                .unwrap();
        assert_eq!(
            f,
            Faults {
                latency: Duration::from_millis(50),
                jitter: Duration::from_millis(10),
                error_rate: 0.1,
                reset_rate: 0.05,
                lost_response_rate: 0.1,
                slow_rate: 0.02,
                slow_delay: Duration::from_secs(40),
                seed: Some(7),
            }
        );
        assert!("".parse::<Faults>().unwrap().is_none());
        assert_eq!(
            "slow=1".parse::<Faults>().unwrap().slow_delay,
            DEFAULT_SLOW_DELAY
        );
    }

    #[test]
    fn rejects_bad_fault_specs_naming_the_item() {
        for (input, needle) in [
            ("error=2", "`error=2`"),
            ("error=abc", "fraction"),
            ("latency=fast", "duration"),
            ("boom=1", "unknown key `boom`"),
            ("reset", "key=value"),
            ("seed=-1", "whole number"),
        ] {
            let err = input.parse::<Faults>().unwrap_err().to_string();
            assert!(err.contains(needle), "{input}: {err}");
        }
    }

    #[test]
    fn parses_rate_limits() {
        assert_eq!(
            "1200/300s".parse::<RateLimit>().unwrap(),
            RateLimit {
                requests: 1200,
                window: Duration::from_secs(300)
            }
        );
        assert_eq!(
            "60/10s".parse::<RateLimit>().unwrap().window,
            Duration::from_secs(10)
        );
        assert_eq!(
            "1200/5m".parse::<RateLimit>().unwrap().window,
            Duration::from_secs(300)
        );
        for bad in ["1200", "x/10s", "10/soon", "0/10s"] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad}");
        }
    }
}
