//! One API response body parsed exactly as the client parses it, without a network:
//! the entry points of the fuzz targets in `fuzz/` and of their regression tests.
//! Hidden from the documentation; not a stable API.

use reqwest::StatusCode;
use serde_json::Value;

use super::{AppSummary, Envelope, Idempotence, absorb, classify, decode_app, decode_policy};
use crate::cloudflare::Error;
use crate::cloudflare::types::{App, Policy};

/// The envelope of a response with `status` and `body`, or the error the client would
/// report (before any retry).
fn envelope<T: serde::de::DeserializeOwned>(
    path: &str,
    status: u16,
    body: &[u8],
) -> Result<Envelope<T>, Error> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    classify(
        &format!("GET {path}"),
        status,
        None,
        body,
        Idempotence::Idempotent,
    )
    .map_err(|attempt| attempt.error)
}

/// A page of `GET /access/apps`: the apps the client keeps from it, de-duplicated.
pub fn apps_page(status: u16, body: &[u8]) -> Result<Vec<App>, Error> {
    let env: Envelope<Vec<AppSummary>> = envelope("/access/apps", status, body)?;
    let mut apps = Vec::new();
    absorb(
        &mut std::collections::HashSet::new(),
        &mut apps,
        env.result.unwrap_or_default(),
    );
    Ok(apps.into_iter().map(|a| a.0).collect())
}

/// A page of `GET /access/policies`: the policies the client keeps from it.
pub fn policies_page(status: u16, body: &[u8]) -> Result<Vec<Policy>, Error> {
    let env: Envelope<Vec<Value>> = envelope("/access/policies", status, body)?;
    let mut items = Vec::new();
    absorb(
        &mut std::collections::HashSet::new(),
        &mut items,
        env.result.unwrap_or_default(),
    );
    Ok(items.into_iter().filter_map(Policy::from_value).collect())
}

/// The answer to `GET` or `PUT /access/apps/{id}`.
pub fn app(status: u16, body: &[u8]) -> Result<App, Error> {
    let env: Envelope = envelope("/access/apps/x", status, body)?;
    decode_app("/access/apps/x", env.result.unwrap_or_default())
}

/// The answer to `GET`, `POST` or `PUT /access/policies[/{id}]`.
pub fn policy(status: u16, body: &[u8]) -> Result<Policy, Error> {
    let env: Envelope = envelope("/access/policies/x", status, body)?;
    decode_policy("/access/policies/x", env.result.unwrap_or_default())
}
