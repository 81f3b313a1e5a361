//! Notifications: what the controller found and did (drift repaired or found, a
//! failing streak, a recovery), sent to webhooks as JSON POST requests, either as the
//! generic [`Event`] (`schema/event.schema.json`) or as a Slack incoming-webhook
//! message.
//!
//! Sending never holds up the reconcile loop ([`Notifier::send`] only queues), and the
//! URL's path and query never reach a log: a Slack webhook URL is its own credential.

pub mod event;
mod sender;
mod slack;
mod target;

pub use event::{Cause, Event, Kind, Source};
pub use sender::{Delivery, DeliveryObserver, Notifier};
pub use slack::render as slack_message;
pub use target::{Format, Target};

/// The default of `--notify-after`: consecutive failures before `reconcile_failing`.
pub const DEFAULT_AFTER: u32 = 3;

/// Where notifications go and when a failing streak is worth one, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySettings {
    /// The webhooks; none: no notifications.
    pub targets: Vec<Target>,
    /// Failures in a row before `reconcile_failing` is sent (`--notify-after`).
    pub after: u32,
    /// Timeouts, retries, queue length.
    pub delivery: Delivery,
}

impl Default for NotifySettings {
    fn default() -> Self {
        Self {
            targets: Vec::new(),
            after: DEFAULT_AFTER,
            delivery: Delivery::default(),
        }
    }
}
