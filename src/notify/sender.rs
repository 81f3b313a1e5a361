//! Delivery: one queue and one task per target, so that the loop only ever hands an
//! event over (never waits for a receiver) and a dead receiver delays nobody else's
//! events. Each POST has a timeout; failures are retried with exponential backoff
//! (a 429's `Retry-After` honoured, capped), a 4xx other than 408 and 429 is final.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::event::Event;
use super::slack;
use super::target::{Format, Target};
use crate::redact::Redactor;

/// How deliveries are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Timeout of one POST, connecting included.
    pub timeout: Duration,
    /// Tries per event, the first included.
    pub attempts: u32,
    /// The wait after the first failed try; it doubles after each further one.
    pub backoff: Duration,
    /// The longest wait between two tries (a `Retry-After` included).
    pub max_backoff: Duration,
    /// Events waiting per target; one more is dropped (and counted).
    pub queue: usize,
}

impl Default for Delivery {
    /// 10 s per try, 5 tries over about 15 s of waits, 64 events queued.
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            attempts: 5,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            queue: 64,
        }
    }
}

/// What became of each event at each target; the controller's metrics implement it.
pub trait DeliveryObserver: Send + Sync {
    /// Delivered (a 2xx answer).
    fn delivered(&self);
    /// Given up on: every try failed, or the receiver refused it for good.
    fn failed(&self);
    /// Dropped without a try: the target's queue was full.
    fn dropped(&self);
}

/// Hands events to the delivery tasks. Dropping it (or [`Notifier::close`]) lets the
/// tasks finish their queues and end.
pub struct Notifier {
    queues: Vec<(String, mpsc::Sender<Arc<Event>>)>,
    tasks: JoinSet<()>,
    observer: Arc<dyn DeliveryObserver>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let targets: Vec<&str> = self.queues.iter().map(|(t, _)| t.as_str()).collect();
        f.debug_struct("Notifier")
            .field("targets", &targets)
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// Starts one delivery task per target, on the current Tokio runtime. `redactor`
    /// scrubs every body before it leaves (the API token must never reach a receiver).
    pub fn start(
        targets: &[Target],
        delivery: &Delivery,
        redactor: &Redactor,
        observer: Arc<dyn DeliveryObserver>,
    ) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(delivery.timeout)
            .connect_timeout(delivery.timeout)
            // A webhook that redirects is misconfigured; following could hand the
            // event (and the URL's secret path, as a Referer) to another host.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("mcp-access/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the notification client: {}", e.without_url()))?;
        let mut tasks = JoinSet::new();
        let mut queues = Vec::new();
        for target in targets {
            let (tx, rx) = mpsc::channel(delivery.queue.max(1));
            queues.push((target.redacted(), tx));
            tasks.spawn(deliver_all(
                rx,
                Worker {
                    http: http.clone(),
                    target: target.clone(),
                    delivery: delivery.clone(),
                    redactor: redactor.clone(),
                    observer: Arc::clone(&observer),
                },
            ));
        }
        Ok(Self {
            queues,
            tasks,
            observer,
        })
    }

    /// Queues `event` for every target. Never waits: a full queue drops the event for
    /// that target, with a warning and the `dropped` count.
    pub fn send(&self, event: Event) {
        let event = Arc::new(event);
        for (target, queue) in &self.queues {
            if queue.try_send(Arc::clone(&event)).is_err() {
                self.observer.dropped();
                tracing::warn!(
                    target = %target,
                    kind = event.kind.as_str(),
                    "notification dropped: the receiver is not keeping up (queue full)"
                );
            }
        }
    }

    /// Stops taking events and gives the queued ones up to `within` to be delivered;
    /// whatever is left then is abandoned.
    pub async fn close(mut self, within: Duration) {
        self.queues.clear();
        let finished = tokio::time::timeout(within, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            tracing::warn!(
                "notifications still being retried at shutdown were abandoned after {}",
                humantime::format_duration(within)
            );
            self.tasks.shutdown().await;
        }
    }
}

struct Worker {
    http: reqwest::Client,
    target: Target,
    delivery: Delivery,
    redactor: Redactor,
    observer: Arc<dyn DeliveryObserver>,
}

/// Delivers a target's events in order until its queue closes.
async fn deliver_all(mut queue: mpsc::Receiver<Arc<Event>>, worker: Worker) {
    while let Some(event) = queue.recv().await {
        worker.deliver(&event).await;
    }
}

/// Why one try failed.
enum TryError {
    /// Worth another try, after at least this long (a `Retry-After`).
    Again(String, Option<Duration>),
    /// The receiver refused the event; another try would get the same.
    Final(String),
}

impl Worker {
    async fn deliver(&self, event: &Event) {
        let body = match self.target.format {
            Format::Json => serde_json::to_string(event),
            Format::Slack => serde_json::to_string(&slack::render(event)),
        }
        .unwrap_or_default();
        let body = self.redactor.scrub(&body).into_owned();
        let mut wait = self.delivery.backoff;
        for attempt in 1..=self.delivery.attempts.max(1) {
            let pause = match self.post(&body).await {
                Ok(()) => {
                    self.observer.delivered();
                    tracing::debug!(
                        target = %self.target.redacted(),
                        kind = event.kind.as_str(),
                        attempt,
                        "notification delivered"
                    );
                    return;
                }
                Err(TryError::Final(why)) => {
                    self.give_up(event, attempt, &why);
                    return;
                }
                Err(TryError::Again(why, retry_after)) => {
                    if attempt == self.delivery.attempts.max(1) {
                        self.give_up(event, attempt, &why);
                        return;
                    }
                    let pause = retry_after
                        .unwrap_or(wait)
                        .max(wait)
                        .min(self.delivery.max_backoff);
                    tracing::debug!(
                        target = %self.target.redacted(),
                        kind = event.kind.as_str(),
                        attempt,
                        retry_in = %humantime::format_duration(pause),
                        "notification not delivered, retrying: {why}"
                    );
                    pause
                }
            };
            // Jitter, so that several controllers do not retry in step.
            tokio::time::sleep(pause.mul_f64(0.8 + fastrand::f64() * 0.4)).await;
            wait = wait.saturating_mul(2).min(self.delivery.max_backoff);
        }
    }

    fn give_up(&self, event: &Event, attempts: u32, why: &str) {
        self.observer.failed();
        tracing::warn!(
            target = %self.target.redacted(),
            kind = event.kind.as_str(),
            attempts,
            "notification not delivered: {why}"
        );
    }

    async fn post(&self, body: &str) -> Result<(), TryError> {
        let response = self
            .http
            .post(self.target.url().clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_owned())
            .send()
            .await
            // `without_url`: reqwest's message quotes the URL, secret path and all.
            .map_err(|e| TryError::Again(e.without_url().to_string(), None))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let why = format!("the receiver answered {status}");
        if status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT
            || status.is_server_error()
        {
            Err(TryError::Again(why, retry_after))
        } else {
            Err(TryError::Final(why))
        }
    }
}
