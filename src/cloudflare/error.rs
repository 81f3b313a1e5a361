//! Errors of the API client. Each says which request failed and, for an API error, the
//! Cloudflare code and message. The token never appears: it is not part of any request
//! description we keep.

use std::time::Duration;

/// One entry of an envelope's `errors` list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct ApiMessage {
    /// Cloudflare's numeric code (e.g. 12130); 0 when absent.
    #[serde(default)]
    pub code: i64,
    /// Human-readable message.
    #[serde(default)]
    pub message: String,
}

/// A failed API call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API answered with a failure status or `success: false`.
    #[error("{request}: HTTP {status}{}", describe(.errors))]
    Api {
        /// `METHOD /path`.
        request: String,
        /// HTTP status.
        status: u16,
        /// The envelope's errors.
        errors: Vec<ApiMessage>,
    },
    /// No usable answer: connection failure, reset, timeout.
    #[error("{request}: {reason}")]
    Transport {
        /// `METHOD /path`.
        request: String,
        /// What went wrong, without the URL's query or any header.
        reason: String,
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
}

impl Error {
    /// The HTTP status, when the API answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            Error::DeadlineExceeded { last, .. } => last.status(),
            _ => None,
        }
    }

    /// True for 404 (`access.api.error.not_found`, 12135): the object is gone. Nothing
    /// else counts as proof of absence.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

fn describe(errors: &[ApiMessage]) -> String {
    use std::fmt::Write;
    errors.iter().fold(String::new(), |mut out, e| {
        let _ = write!(out, ", Cloudflare error {}: {}", e.code, e.message);
        out
    })
}
