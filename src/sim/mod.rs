//! An in-memory simulator of the Cloudflare Access API: apps, reusable policies, token
//! verification, pagination, rate limiting and injected faults, served over HTTP by axum.
//!
//! Tests start one on port 0 with [`Simulator::start`], point the client at
//! [`Simulator::base_url`], and inspect what happened through [`Simulator::journal`] and
//! the state accessors. `mcp-access sim serve` and `demo` use [`Simulator::bind`] and
//! [`Simulator::run_until`]. The behaviour follows the project's reference page on the
//! Access API; every choice it forced is marked `NOTE:` in the code, and the points no
//! public source settles are marked ASSUMED.

mod config;
pub mod misbehave;
mod seed;
mod server;
mod store;
pub mod synthetic;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::task::JoinHandle;

pub use config::{
    APPS_DEFAULT_PER_PAGE, DEFAULT_SLOW_DELAY, Faults, POLICIES_DEFAULT_PER_PAGE, RateLimit,
    SimConfig,
};
pub use misbehave::Misbehaviour;
pub use seed::Seed;

use server::{Shared, lock};

/// What can go wrong setting up a simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {source} (is the port in use?)")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A seed fixture is malformed or holds an object the API would refuse.
    #[error("invalid simulator seed: {0}")]
    InvalidSeed(String),
    /// A fault specification did not parse.
    #[error("invalid fault spec {input:?}: {reason}")]
    InvalidFaults {
        /// The whole specification.
        input: String,
        /// Which item is wrong and why.
        reason: String,
    },
    /// A misbehaviour specification did not parse.
    #[error("invalid misbehaviour spec {input:?}: {reason}")]
    InvalidMisbehaviour {
        /// The whole specification.
        input: String,
        /// Which item is wrong and why.
        reason: String,
    },
    /// The account id is not 32 hexadecimal characters, as Cloudflare's are.
    #[error(
        "invalid simulator account id {0:?}: a Cloudflare account id is 32 hexadecimal characters"
    )]
    InvalidAccountId(String),
    /// A rate limit did not parse.
    #[error("invalid rate limit {input:?}: {reason}")]
    InvalidRateLimit {
        /// The specification.
        input: String,
        /// Why it is wrong.
        reason: String,
    },
}

/// One request the simulator received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// `GET`, `PUT`, ...
    pub method: String,
    /// The full request path, `/client/v4/...`.
    pub path: String,
    /// The query string, without `?`.
    pub query: Option<String>,
    /// The status answered; 0 when the connection was aborted (reset or lost response).
    pub status: u16,
}

/// One write that changed the account, as [`Simulator::write_log`] keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteRecord {
    /// `POST`, `PUT` or `DELETE`.
    pub method: String,
    /// The full request path, `/client/v4/...`.
    pub path: String,
    /// The request body (`null` for a DELETE).
    pub body: Value,
    /// The `result` the simulator answered (the created policy of a POST, ...).
    pub result: Value,
}

impl JournalEntry {
    /// True for anything but `GET` (and `HEAD`).
    pub fn is_write(&self) -> bool {
        self.method != "GET" && self.method != "HEAD"
    }
}

/// A running simulator. Dropping it stops the server.
pub struct Simulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: Option<JoinHandle<()>>,
}

impl Simulator {
    /// Starts a simulator on `127.0.0.1`, on a free port.
    pub async fn start(config: SimConfig, seed: Seed) -> Result<Simulator, SimError> {
        Self::bind(config, seed, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts a simulator on `addr`.
    pub async fn bind(
        config: SimConfig,
        seed: Seed,
        addr: SocketAddr,
    ) -> Result<Simulator, SimError> {
        if !crate::cloudflare::is_account_id(&config.account_id) {
            return Err(SimError::InvalidAccountId(config.account_id));
        }
        let mut store = seed.to_store_with(store::Behaviour::of(&config))?;
        store.set_unlisted(config.unlisted_policies.iter().cloned());
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| SimError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| SimError::Bind { addr, source })?;
        let shared = Arc::new(Shared::new(config, store));
        let app = server::router(Arc::clone(&shared));
        let cancel = shared.cancel.clone();
        // NOTE: Cloudflare's edge does not add Nagle delays; without TCP_NODELAY a
        // response written in two parts can wait for the client's delayed ACK (~40 ms).
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(cancel.cancelled_owned());
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "simulator server failed");
            }
        });
        tracing::debug!(%addr, "simulator listening");
        Ok(Simulator {
            shared,
            addr,
            task: Some(task),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/client/v4`: what a client uses as its API base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.addr, server::BASE_PATH)
    }

    /// The account id the simulator serves.
    pub fn account_id(&self) -> &str {
        &self.shared.account_id
    }

    /// The bearer token it accepts.
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// Every request received so far, in order.
    pub fn journal(&self) -> Vec<JournalEntry> {
        lock(&self.shared.journal).clone()
    }

    /// Forgets the requests received so far (and the write log).
    pub fn clear_journal(&self) {
        lock(&self.shared.journal).clear();
        lock(&self.shared.write_log).clear();
    }

    /// With [`SimConfig::record_writes`]: every successful write, in the order it
    /// changed the account (recorded under the same lock as the change, so concurrent
    /// writes appear in the order they took effect). Empty otherwise.
    pub fn write_log(&self) -> Vec<WriteRecord> {
        lock(&self.shared.write_log).clone()
    }

    /// The journal's non-GET entries.
    pub fn writes(&self) -> Vec<JournalEntry> {
        self.journal()
            .into_iter()
            .filter(JournalEntry::is_write)
            .collect()
    }

    /// Every app, as `GET /access/apps` returns them (policies expanded), in creation order.
    pub fn apps(&self) -> Vec<Value> {
        lock(&self.shared.store).apps()
    }

    /// One app as `GET /access/apps/{id}` returns it.
    pub fn app(&self, id: &str) -> Option<Value> {
        lock(&self.shared.store).app(id)
    }

    /// One app as stored: write-only secrets included, policies as links. What the API
    /// would never return; for tests that check a secret survived.
    pub fn stored_app(&self, id: &str) -> Option<Value> {
        lock(&self.shared.store).stored_app(id)
    }

    /// Every reusable policy, as `GET /access/policies` returns them.
    pub fn policies(&self) -> Vec<Value> {
        lock(&self.shared.store).policies()
    }

    /// One policy as `GET /access/policies/{id}` returns it.
    pub fn policy(&self, id: &str) -> Option<Value> {
        lock(&self.shared.store).policy(id)
    }

    /// Changes an app out of band, as a dashboard user would (not journaled, not
    /// validated). Inside `f`, `policies` is the stored link list `[{id, precedence}]`.
    /// `updated_at` is bumped first. Does nothing for an unknown id.
    pub fn edit_app(&self, id: &str, f: impl FnOnce(&mut Map<String, Value>)) {
        lock(&self.shared.store).edit_app(id, f);
    }

    /// Changes a policy out of band (not journaled, not validated). `app_count` is
    /// recomputed on every read whatever `f` does. Does nothing for an unknown id.
    pub fn edit_policy(&self, id: &str, f: impl FnOnce(&mut Map<String, Value>)) {
        lock(&self.shared.store).edit_policy(id, f);
    }

    /// Adds a policy out of band, defaults filled in, without validation; keeps its
    /// `id` when it has one (replacing a policy with that id in place, links kept).
    /// Returns the id.
    pub fn insert_policy(&self, policy: Value) -> String {
        lock(&self.shared.store).insert_policy(policy)
    }

    /// Every app-scoped (legacy) policy, as its app shows it expanded, plus its
    /// `app_id`; sorted by id.
    pub fn legacy_policies(&self) -> Vec<Value> {
        lock(&self.shared.store).legacy_policies()
    }

    /// Adds a legacy (app-scoped) policy to an app out of band, as older accounts have
    /// them (they can no longer be added through the API), linked at `precedence`.
    /// `policy` is a definition like a reusable policy's (`name`, `decision`,
    /// `include`, ...; an `id` is kept). Returns its id; `None` for an unknown app or
    /// an invalid definition.
    pub fn add_legacy_policy(
        &self,
        app_id: &str,
        policy: &Value,
        precedence: u64,
    ) -> Option<String> {
        lock(&self.shared.store).add_legacy_policy(app_id, policy, precedence)
    }

    /// Deletes a policy out of band and unlinks it from every app.
    pub fn remove_policy(&self, id: &str) {
        lock(&self.shared.store).remove_policy(id);
    }

    /// Leaves these reusable policies out of `GET /access/policies` from now on (they
    /// are still linked and served by id), as a list that missed them would; replaces
    /// any earlier set.
    pub fn set_unlisted_policies(&self, ids: &[&str]) {
        lock(&self.shared.store).set_unlisted(ids.iter().map(|id| (*id).to_owned()));
    }

    /// Replaces the injected faults from the next request on. A `seed` restarts the RNG.
    pub fn set_faults(&self, faults: Faults) {
        self.shared.set_faults(faults);
    }

    /// Replaces the misbehaviour switches from the next request on.
    pub fn set_misbehaviour(&self, misbehave: Misbehaviour) {
        self.shared.set_misbehaviour(misbehave);
    }

    /// Sets how much of every rate-limit window another client spends (and starts
    /// every window afresh).
    pub fn set_rate_limit_spent(&self, spent: u32) {
        self.shared.set_rate_limit_spent(spent);
    }

    /// Replaces the rate limit (and starts every window afresh).
    pub fn set_rate_limit(&self, limit: Option<RateLimit>) {
        self.shared.set_rate_limit(limit);
    }

    /// Stops the server: in-flight injected delays end with an aborted connection, open
    /// connections are closed, and the server task is awaited.
    pub async fn shutdown(mut self) {
        self.shared.cancel.cancel();
        if let Some(mut task) = self.task.take() {
            // Graceful shutdown waits for open connections; do not wait forever for a
            // client that keeps one busy.
            if tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }

    /// Serves until `shutdown` completes (or the server fails), then stops.
    pub async fn run_until(mut self, shutdown: impl Future<Output = ()>) {
        if let Some(task) = self.task.as_mut() {
            tokio::select! {
                () = shutdown => {}
                _ = task => { self.task = None; }
            }
        }
        self.shutdown().await;
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        // Graceful shutdown then ends the server task on its own: injected delays are
        // cut short and idle connections closed.
        self.shared.cancel.cancel();
    }
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}
