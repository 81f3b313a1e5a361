//! Errors of the API client. Each says which request failed and, for an API error, the
//! Cloudflare code, its cause chain and a hint at the fix. The token never appears: it
//! is not part of any request description we keep, and whatever the server sent back
//! is scrubbed of it before an error is built ([`Error::redacted`]).

use std::time::Duration;

use crate::redact::Redactor;

/// One entry of an envelope's `errors` list.
///
/// NOTE (workers-sdk #5175, cloudflare-typescript #161): an error may carry its causes
/// in `error_chain`, e.g. 6003 "Invalid request headers" caused by 6111 "Invalid format
/// for Authorization header".
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct ApiMessage {
    /// Cloudflare's numeric code (e.g. 12130); 0 when absent.
    #[serde(default)]
    pub code: i64,
    /// Human-readable message.
    #[serde(default)]
    pub message: String,
    /// The causes, when the API gives them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_chain: Vec<ApiMessage>,
}

/// A failed API call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API answered with a failure status or `success: false`.
    #[error("{request}: HTTP {status}{}{}", describe(.errors), hint_line(.hint.as_deref()))]
    Api {
        /// `METHOD /path`.
        request: String,
        /// HTTP status.
        status: u16,
        /// The envelope's errors.
        errors: Vec<ApiMessage>,
        /// What to check, for the errors people commonly get (auth, permission,
        /// wrong URL).
        hint: Option<String>,
    },
    /// No usable answer: connection failure, reset, timeout.
    #[error("{request}: {reason}")]
    Transport {
        /// `METHOD /path`.
        request: String,
        /// What went wrong, without the URL's query or any header.
        reason: String,
    },
    /// The API could not be reached at all (connection refused, DNS, TLS) within the
    /// short budget such failures get.
    #[error(
        "cannot reach the Cloudflare API at {url}: {reason} ({attempts} attempt(s) in {}); check --api-url / CLOUDFLARE_API_BASE_URL (the real API is https://api.cloudflare.com/client/v4) and the network",
        humantime::format_duration(*.elapsed)
    )]
    Unreachable {
        /// The base URL tried.
        url: String,
        /// `METHOD /path` of the request that gave up.
        request: String,
        /// What the last attempt saw.
        reason: String,
        /// How many tries were made.
        attempts: u32,
        /// How long they took, rounded to whole seconds.
        elapsed: Duration,
    },
    /// A create request whose outcome cannot be known (its response was lost). The
    /// caller must look before creating again.
    #[error("{request}: outcome unknown ({reason}); not repeated blindly")]
    OutcomeUnknown {
        /// `METHOD /path`.
        request: String,
        /// What went wrong.
        reason: String,
    },
    /// Retries stopped because the next wait would pass the deadline.
    #[error(
        "{request}: gave up after {attempts} attempt(s) within the {} retry deadline; last error: {last}",
        humantime::format_duration(*.deadline)
    )]
    DeadlineExceeded {
        /// `METHOD /path`.
        request: String,
        /// How many tries were made.
        attempts: u32,
        /// The total retry deadline.
        deadline: Duration,
        /// The last error seen.
        last: Box<Error>,
    },
    /// The answer was not the JSON we expected.
    #[error("{request}: unexpected response: {reason}")]
    Decode {
        /// `METHOD /path`.
        request: String,
        /// What did not parse.
        reason: String,
    },
    /// The response body was larger than the client accepts; it was not read further.
    #[error(
        "{request}: the response is larger than {} (--max-response-size); refusing to read it",
        crate::cloudflare::format_size(*.limit)
    )]
    ResponseTooLarge {
        /// `METHOD /path`.
        request: String,
        /// The cap, in bytes.
        limit: u64,
    },
    /// The API answered with a redirect. The client follows none: Cloudflare's API does
    /// not redirect, and a request body must never be re-sent to another host.
    #[error(
        "{request}: HTTP {status} redirect to {location}; not followed (the Cloudflare API does not redirect: check --api-url / CLOUDFLARE_API_BASE_URL)"
    )]
    Redirect {
        /// `METHOD /path`.
        request: String,
        /// 301, 302, 303, 307 or 308.
        status: u16,
        /// The `Location` header, or `(none)`.
        location: String,
    },
    /// A list hit one of the client's bounds (items, pages, or a reported total past
    /// them). Nothing was written from it.
    #[error("{request}: {message}")]
    ListTooLong {
        /// `METHOD /path`.
        request: String,
        /// Which limit, its value, and the flag that raises it.
        message: String,
    },
    /// A list did not add up, even when read a second time. Nothing was written from it.
    #[error(
        "{request}: the list is inconsistent, also when read again: {problems}. Refusing to act on it; nothing was written from this read"
    )]
    InconsistentList {
        /// `METHOD /path`.
        request: String,
        /// What did not add up.
        problems: String,
    },
    /// The account id cannot be a Cloudflare account id; checked before any request.
    #[error(
        "account id {account_id:?} is not a Cloudflare account id (32 hexadecimal characters, as in the dashboard's URL dash.cloudflare.com/<account id>); check --account-id, CLOUDFLARE_ACCOUNT_ID or the manifest's account_id"
    )]
    InvalidAccountId {
        /// The id given.
        account_id: String,
    },
}

impl Error {
    /// The HTTP status, when the API answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } | Error::Redirect { status, .. } => Some(*status),
            Error::DeadlineExceeded { last, .. } => last.status(),
            _ => None,
        }
    }

    /// The Cloudflare error codes of an API error (outermost first, causes included).
    pub fn codes(&self) -> Vec<i64> {
        fn walk(errors: &[ApiMessage], out: &mut Vec<i64>) {
            for e in errors {
                out.push(e.code);
                walk(&e.error_chain, out);
            }
        }
        let mut out = Vec::new();
        match self {
            Error::Api { errors, .. } => walk(errors, &mut out),
            Error::DeadlineExceeded { last, .. } => out = last.codes(),
            _ => {}
        }
        out
    }

    /// True only for 404 with code 12135 (`access.api.error.not_found`): the object is
    /// gone. Nothing else is proof of absence: a 404 with 7003 ("No route for the URI")
    /// is a wrong base URL or path, and a 5xx or a timeout says nothing.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404) && self.codes().contains(&NOT_FOUND)
    }

    /// The same error with every occurrence of a secret in its text replaced. Applied
    /// once, where the client hands an error out, so that a server message quoting
    /// the `Authorization` header (or anything else holding the token) never leaves
    /// the client with the token in it.
    #[must_use]
    pub fn redacted(self, redactor: &Redactor) -> Self {
        fn messages(errors: Vec<ApiMessage>, r: &dyn Fn(String) -> String) -> Vec<ApiMessage> {
            errors
                .into_iter()
                .map(|e| ApiMessage {
                    code: e.code,
                    message: r(e.message),
                    error_chain: messages(e.error_chain, r),
                })
                .collect()
        }
        if redactor.is_empty() {
            return self;
        }
        let r = |s: String| redactor.scrub(&s).into_owned();
        match self {
            Error::Api {
                request,
                status,
                errors,
                hint,
            } => Error::Api {
                request: r(request),
                status,
                errors: messages(errors, &r),
                hint: hint.map(r),
            },
            Error::Transport { request, reason } => Error::Transport {
                request: r(request),
                reason: r(reason),
            },
            Error::Unreachable {
                url,
                request,
                reason,
                attempts,
                elapsed,
            } => Error::Unreachable {
                url: r(url),
                request: r(request),
                reason: r(reason),
                attempts,
                elapsed,
            },
            Error::OutcomeUnknown { request, reason } => Error::OutcomeUnknown {
                request: r(request),
                reason: r(reason),
            },
            Error::DeadlineExceeded {
                request,
                attempts,
                deadline,
                last,
            } => Error::DeadlineExceeded {
                request: r(request),
                attempts,
                deadline,
                last: Box::new(last.redacted(redactor)),
            },
            Error::Decode { request, reason } => Error::Decode {
                request: r(request),
                reason: r(reason),
            },
            Error::ResponseTooLarge { request, limit } => Error::ResponseTooLarge {
                request: r(request),
                limit,
            },
            Error::Redirect {
                request,
                status,
                location,
            } => Error::Redirect {
                request: r(request),
                status,
                location: r(location),
            },
            Error::ListTooLong { request, message } => Error::ListTooLong {
                request: r(request),
                message: r(message),
            },
            Error::InconsistentList { request, problems } => Error::InconsistentList {
                request: r(request),
                problems: r(problems),
            },
            Error::InvalidAccountId { account_id } => Error::InvalidAccountId {
                account_id: r(account_id),
            },
        }
    }
}

/// `access.api.error.not_found`.
const NOT_FOUND: i64 = 12135;

/// Which Access permission a command needs; named in the hint of an auth error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Permission {
    /// `plan`, `check`: reading apps and policies.
    #[default]
    Read,
    /// `reconcile`, `apply`, `run`: changing them.
    Write,
}

impl Permission {
    /// The permission group as Cloudflare's token editor names it.
    pub fn label(self) -> &'static str {
        match self {
            Permission::Read => "Access: Apps and Policies Read",
            Permission::Write => "Access: Apps and Policies Write",
        }
    }
}

/// The hint for the errors people commonly get, from the status and codes.
///
/// NOTE (reference page, "Base, auth, envelope" and "Added after the first release"):
/// 10000 "Authentication error" and 9109 "Unauthorized to access requested resource"
/// (403) mean the token lacks the permission or does not cover the account; 6003
/// "Invalid request headers" (400, cause in `error_chain`, e.g. 6111) and 9106 (400,
/// "Missing X-Auth-Key, X-Auth-Email or Authorization headers", cloudflare-python
/// #2678) mean the token is malformed or missing; 7003 "No route for the URI" (404) is
/// a wrong base URL or path.
pub(crate) fn hint_for(
    status: u16,
    errors: &[ApiMessage],
    permission: Permission,
    account_id: &str,
) -> Option<String> {
    let mut codes = Vec::new();
    let mut stack: Vec<&ApiMessage> = errors.iter().collect();
    while let Some(e) = stack.pop() {
        codes.push(e.code);
        stack.extend(e.error_chain.iter());
    }
    let has = |c: i64| codes.contains(&c);
    if has(6003) || has(6111) || has(9106) {
        return Some(
            "the API token is missing or malformed: check CLOUDFLARE_API_TOKEN or --api-token-file (an API token, not a Global API Key, sent as `Authorization: Bearer`)"
                .to_owned(),
        );
    }
    if has(10000) || has(9109) || (status == 403 && codes.is_empty()) {
        return Some(format!(
            "the token needs the permission \"{}\" and must cover account {account_id} (Account Resources in the token's settings)",
            permission.label()
        ));
    }
    if has(7003) || (status == 404 && codes.is_empty()) {
        return Some(
            "no such route: check --api-url / CLOUDFLARE_API_BASE_URL (the real API is https://api.cloudflare.com/client/v4)"
                .to_owned(),
        );
    }
    None
}

fn describe(errors: &[ApiMessage]) -> String {
    fn one(out: &mut String, e: &ApiMessage) {
        use std::fmt::Write;
        let _ = write!(out, "Cloudflare error {}: {}", e.code, e.message);
        if !e.error_chain.is_empty() {
            out.push_str(" (caused by ");
            for (i, cause) in e.error_chain.iter().enumerate() {
                if i > 0 {
                    out.push_str("; ");
                }
                one(out, cause);
            }
            out.push(')');
        }
    }
    errors.iter().fold(String::new(), |mut out, e| {
        out.push_str(", ");
        one(&mut out, e);
        out
    })
}

fn hint_line(hint: Option<&str>) -> String {
    hint.map(|h| format!("\nhint: {h}")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(code: i64, message: &str, chain: Vec<ApiMessage>) -> ApiMessage {
        ApiMessage {
            code,
            message: message.into(),
            error_chain: chain,
        }
    }

    #[test]
    fn shows_the_error_chain_and_a_hint() {
        let errors = vec![msg(
            6003,
            "Invalid request headers",
            vec![msg(6111, "Invalid format for Authorization header", vec![])],
        )];
        let e = Error::Api {
            request: "GET /x".into(),
            status: 400,
            hint: hint_for(400, &errors, Permission::Read, "a"),
            errors,
        };
        let shown = e.to_string();
        assert!(
            shown.contains("6003: Invalid request headers (caused by Cloudflare error 6111: Invalid format for Authorization header)"),
            "{shown}"
        );
        assert!(shown.contains("malformed"), "{shown}");
    }

    #[test]
    fn only_12135_is_proof_of_absence() {
        let api = |status, code| Error::Api {
            request: "DELETE /x".into(),
            status,
            errors: vec![msg(code, "m", vec![])],
            hint: None,
        };
        assert!(api(404, 12135).is_not_found());
        assert!(!api(404, 7003).is_not_found());
        assert!(!api(500, 12135).is_not_found());
        let hint = hint_for(
            404,
            &[msg(7003, "No route for the URI", vec![])],
            Permission::Write,
            "a",
        );
        assert!(hint.unwrap().contains("--api-url"));
    }

    #[test]
    fn auth_hints_name_the_permission_and_the_account() {
        let write = hint_for(
            403,
            &[msg(10000, "Authentication error", vec![])],
            Permission::Write,
            "abc",
        )
        .unwrap();
        assert!(
            write.contains("Access: Apps and Policies Write") && write.contains("abc"),
            "{write}"
        );
        let read = hint_for(
            403,
            &[msg(9109, "Unauthorized", vec![])],
            Permission::Read,
            "abc",
        )
        .unwrap();
        assert!(read.contains("Access: Apps and Policies Read"), "{read}");
    }

    #[test]
    fn redaction_reaches_nested_errors() {
        let redactor = Redactor::new(["tok-123"]);
        let e = Error::DeadlineExceeded {
            request: "GET /x".into(),
            attempts: 2,
            deadline: Duration::from_secs(1),
            last: Box::new(Error::Api {
                request: "GET /x".into(),
                status: 400,
                errors: vec![msg(
                    1,
                    "bad header Authorization: Bearer tok-123",
                    vec![msg(2, "tok-123", vec![])],
                )],
                hint: None,
            }),
        };
        let shown = e.redacted(&redactor).to_string();
        assert!(!shown.contains("tok-123"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }
}
