//! The Cloudflare Access API: client (auth, envelope, pagination, rate limit, retries)
//! and the API objects.

pub mod client;
pub mod error;
pub mod settings;
pub mod types;

pub use client::{ApiObserver, Client, ClientConfig, DEFAULT_BASE_URL, Rate};
pub use error::{ApiMessage, Error};
pub use settings::{ApiSettings, MissingSetting};
