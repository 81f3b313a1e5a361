//! How to reach the API, as the user configured it: the flags and environment, before
//! the manifest has said which account it is for. [`ApiSettings::client_config`] turns
//! them into a [`ClientConfig`] once the account and the token are known.

use std::time::Duration;

use secrecy::SecretString;

use super::client::{ClientConfig, DEFAULT_BASE_URL, Rate};
use super::error::Permission;

/// The API settings of one invocation (`--api-url`, `--account-id`, the token, the
/// client's limits).
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Base URL.
    pub base_url: String,
    /// `--account-id` / `CLOUDFLARE_ACCOUNT_ID`, when given.
    pub account_id: Option<String>,
    /// The token, when given. Debug prints it redacted.
    pub token: Option<SecretString>,
    /// In-flight limit.
    pub concurrency: usize,
    /// One request's timeout.
    pub request_timeout: Duration,
    /// Client-side rate.
    pub rate: Rate,
    /// Client-side burst.
    pub burst: u32,
    /// Total retry time of one request.
    pub retry_deadline: Duration,
    /// Longest silence while reading a response.
    pub read_timeout: Duration,
    /// Largest response body read, in bytes.
    pub max_response_bytes: u64,
    /// Most items one list may hold.
    pub max_list_items: usize,
    /// A progress bar on stderr for long reads and applies (drawn only on a terminal).
    pub progress: bool,
}

impl Default for ApiSettings {
    /// The public API with the client's defaults, and no account or token.
    fn default() -> Self {
        let defaults = ClientConfig::new(DEFAULT_BASE_URL, "", SecretString::from(""));
        Self {
            base_url: defaults.base_url,
            account_id: None,
            token: None,
            concurrency: defaults.concurrency,
            request_timeout: defaults.request_timeout,
            rate: defaults.rate,
            burst: defaults.burst,
            retry_deadline: defaults.retry_deadline,
            read_timeout: defaults.read_timeout,
            max_response_bytes: defaults.max_response_bytes,
            max_list_items: defaults.max_list_items,
            progress: defaults.progress,
        }
    }
}

/// A setting the API needs that nobody gave.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MissingSetting {
    /// No account id from the flags, the environment or the manifest.
    #[error(
        "no Cloudflare account id: pass --account-id, set CLOUDFLARE_ACCOUNT_ID, or put account_id in the manifest"
    )]
    AccountId,
    /// No token from the environment or `--api-token-file`.
    #[error(
        "no API token: set CLOUDFLARE_API_TOKEN or pass --api-token-file (permission \"Access: Apps and Policies Read\" for plan and check, \"Access: Apps and Policies Write\" for reconcile, apply and run)"
    )]
    Token,
}

impl ApiSettings {
    /// The account: `--account-id` (or `CLOUDFLARE_ACCOUNT_ID`) wins over `fallback`,
    /// the manifest's or a saved plan's.
    pub fn account_id(&self, fallback: Option<&str>) -> Result<String, MissingSetting> {
        self.account_id
            .as_deref()
            .or(fallback)
            .map(str::to_owned)
            .ok_or(MissingSetting::AccountId)
    }

    /// The token.
    pub fn token(&self) -> Result<SecretString, MissingSetting> {
        self.token.clone().ok_or(MissingSetting::Token)
    }

    /// The client's configuration for `account_id`, for a command that needs
    /// `permission` (named in the hint of an auth error).
    pub fn client_config(
        &self,
        account_id: String,
        token: SecretString,
        permission: Permission,
    ) -> ClientConfig {
        let mut config = ClientConfig::new(self.base_url.clone(), account_id, token);
        config.permission = permission;
        config.read_timeout = self.read_timeout;
        config.max_response_bytes = self.max_response_bytes;
        config.max_list_items = self.max_list_items;
        config.concurrency = self.concurrency;
        config.request_timeout = self.request_timeout;
        config.rate = self.rate;
        config.burst = self.burst;
        config.retry_deadline = self.retry_deadline;
        config.progress = self.progress;
        config
    }
}
