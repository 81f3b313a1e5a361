//! The Cloudflare Access API: client (auth, envelope, pagination, rate limit, retries)
//! and the API objects.

pub mod client;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
mod pacing;
mod pagination;
mod response;
pub mod rules;
pub mod settings;
pub mod types;

pub use client::{
    ApiObserver, CONNECT_RETRY_BUDGET, Client, ClientConfig, DEFAULT_BASE_URL,
    DEFAULT_MAX_RESPONSE_BYTES, Rate, format_size, is_account_id, parse_size,
};
pub use error::{ApiMessage, Error, Permission};
pub use pagination::{ACCOUNT_LIMIT, DEFAULT_MAX_LIST_ITEMS, PAGE_SIZES};
pub use settings::{ApiSettings, MissingSetting};
