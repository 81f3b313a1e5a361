//! Which notifications a cycle calls for: drift repaired (heal mode) or newly found
//! (observe mode), a failing streak once it reaches `--notify-after`, and the recovery
//! after such a streak. Bookkeeping only; [`crate::notify::Notifier`] sends.

use std::time::SystemTime;

use sha2::{Digest, Sha256};

use super::RunMode;
use crate::notify::{Cause, Event, Source};
use crate::plan::Plan;
use crate::reconcile::Outcome;

/// A run of failures.
#[derive(Debug, Clone, Copy)]
struct Streak {
    since: SystemTime,
    failures: u32,
    /// `reconcile_failing` was sent for it, so its end is worth a `recovered`.
    announced: bool,
}

/// What the notifications remember between cycles.
#[derive(Debug)]
pub(super) struct Notices {
    after: u32,
    streak: Option<Streak>,
    /// Observe mode: the pending changes last reported, so that unchanged drift is
    /// reported once, not every interval.
    reported: Option<[u8; 32]>,
}

/// What a successful cycle found, for [`Notices::succeeded`].
pub(super) struct Found<'a> {
    pub outcome: &'a Outcome,
    pub mode: RunMode,
    pub cause: Cause,
    /// Observe mode: why heal mode would refuse the pending plan.
    pub refused: Option<String>,
}

impl Notices {
    /// Nothing seen yet; a streak is announced at `after` failures.
    pub(super) fn new(after: u32) -> Self {
        Self {
            after: after.max(1),
            streak: None,
            reported: None,
        }
    }

    /// The events a success calls for: `recovered` after an announced streak, then the
    /// drift, if any.
    pub(super) fn succeeded(
        &mut self,
        found: &Found<'_>,
        now: SystemTime,
        source: &Source,
    ) -> Vec<Event> {
        let mut events = Vec::new();
        if let Some(streak) = self.streak.take().filter(|s| s.announced) {
            events.push(Event::recovered(
                streak.failures,
                streak.since,
                now,
                source.clone(),
            ));
        }
        let outcome = found.outcome;
        match found.mode {
            RunMode::Heal if !outcome.rounds.is_empty() => {
                let plans: Vec<&Plan> = outcome.rounds.iter().map(|r| &r.plan).collect();
                events.push(Event::drift(
                    true,
                    found.cause,
                    &plans,
                    None,
                    now,
                    source.clone(),
                ));
            }
            RunMode::Heal => {}
            RunMode::Observe => {
                let plan = &outcome.first_plan;
                if plan.is_empty() {
                    self.reported = None;
                } else {
                    let key = pending_key(plan);
                    if self.reported != Some(key) {
                        self.reported = Some(key);
                        events.push(Event::drift(
                            false,
                            found.cause,
                            &[plan],
                            found.refused.clone(),
                            now,
                            source.clone(),
                        ));
                    }
                }
            }
        }
        events
    }

    /// A failure (not a cancellation): `reconcile_failing` when the streak reaches the
    /// threshold, once per streak.
    pub(super) fn failed(
        &mut self,
        result: &str,
        error: &str,
        now: SystemTime,
        source: &Source,
    ) -> Option<Event> {
        let streak = self.streak.get_or_insert(Streak {
            since: now,
            failures: 0,
            announced: false,
        });
        streak.failures += 1;
        if streak.announced || streak.failures < self.after {
            return None;
        }
        streak.announced = true;
        Some(Event::failing(
            result,
            error,
            streak.failures,
            streak.since,
            now,
            source.clone(),
        ))
    }
}

/// Identifies a set of pending changes (the actions, not the account's fingerprint,
/// which moves with unrelated edits).
fn pending_key(plan: &Plan) -> [u8; 32] {
    let actions = crate::plan::json::actions(plan);
    let text = serde_json::to_string(&actions).unwrap_or_default();
    Sha256::digest(text.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::Kind;

    fn source() -> Source {
        Source {
            owner: None,
            account_id: None,
            mode: "heal".into(),
            version: "0".into(),
        }
    }

    #[test]
    fn a_streak_is_announced_once_at_the_threshold() {
        let mut n = Notices::new(3);
        let now = SystemTime::now();
        let kinds: Vec<Option<Kind>> = (0..5)
            .map(|_| {
                n.failed("api_error", "down", now, &source())
                    .map(|e| e.kind)
            })
            .collect();
        assert_eq!(
            kinds,
            [None, None, Some(Kind::ReconcileFailing), None, None]
        );
        let failing = {
            let mut n = Notices::new(1);
            n.failed("refused", "too many", now, &source()).unwrap()
        };
        assert_eq!(failing.failure.unwrap().consecutive_failures, 1);
    }
}
