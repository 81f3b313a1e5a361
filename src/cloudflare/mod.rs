//! The Cloudflare Access API: client (auth, envelope, pagination, retries) and types.

pub mod types;
