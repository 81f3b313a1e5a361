//! API response bodies parsed exactly as the client parses them, without a network:
//! the entry points of the fuzz targets in `fuzz/` and of their regression tests.
//! Hidden from the documentation; not a stable API.

use reqwest::StatusCode;
use serde_json::Value;

use super::Error;
use super::client::{decode_app, decode_policy};
use super::error::Permission;
use super::pagination::read_bodies;
use super::response::{Context, Envelope, Idempotence, classify};
use super::types::{App, AppSummary, Policy};

/// The most items the fuzzed lists may hold (a walk's `--max-list-items`).
pub const MAX_ITEMS: usize = 1000;

/// One read of `GET /access/apps` from its page bodies: the apps the client keeps, or
/// the error the read ends with.
pub fn apps_list(pages: &[&[u8]]) -> Result<Vec<App>, Error> {
    let items: Vec<AppSummary> = read_bodies("/access/apps", pages, MAX_ITEMS)?;
    Ok(items.into_iter().map(|a| a.0).collect())
}

/// One read of `GET /access/policies` from its page bodies.
pub fn policies_list(pages: &[&[u8]]) -> Result<Vec<Policy>, Error> {
    let items: Vec<Value> = read_bodies("/access/policies", pages, MAX_ITEMS)?;
    Ok(items.into_iter().filter_map(Policy::from_value).collect())
}

/// The envelope of a response with `status` and `body`, or the error the client would
/// report (before any retry).
fn envelope(path: &str, status: u16, body: &[u8]) -> Result<Envelope, Error> {
    let request = format!("GET {path}");
    let ctx = Context {
        request: &request,
        idempotence: Idempotence::Idempotent,
        permission: Permission::Write,
        account_id: "0123456789abcdef0123456789abcdef",
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    classify(&ctx, status, None, body).map_err(|attempt| attempt.error)
}

/// The answer to `GET` or `PUT /access/apps/{id}`.
pub fn app(status: u16, body: &[u8]) -> Result<App, Error> {
    let env = envelope("/access/apps/x", status, body)?;
    decode_app("/access/apps/x", env.result.unwrap_or_default())
}

/// The answer to `GET`, `POST` or `PUT /access/policies[/{id}]`.
pub fn policy(status: u16, body: &[u8]) -> Result<Policy, Error> {
    let env = envelope("/access/policies/x", status, body)?;
    decode_policy("/access/policies/x", env.result.unwrap_or_default())
}
