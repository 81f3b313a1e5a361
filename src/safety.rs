//! Safety rails between a plan and the writes, as octoDNS has them: `--policy
//! upsert-only` never removes anything; a plan that removes more than a share of the
//! managed links, or every managed policy, is refused unless explicitly allowed.
//!
//! Adoption (`--adopt`) is not a removal: renaming a hand-made grant keeps every link,
//! and the links of merged duplicates move onto the kept policy in the same app
//! writes ([`crate::plan::Detach::moved_to`]), so they do not count toward
//! `--max-delete-percent`. Under `upsert-only` an adoption still renames (it removes
//! nothing) but merged duplicates are neither detached nor deleted.
//!
//! Why: the likeliest way to lose access at scale is not a bad edit but a missing one:
//! a manifest path that globbed nothing, a file dropped in a refactor. Those plans look
//! like mass removals, and that is what the checks stop.

use clap::ValueEnum;

use crate::plan::Plan;

/// Below this many managed links, the removal percentage is not checked: with few
/// links, one removal is already a large share.
pub const MIN_LINKS_FOR_THRESHOLD: usize = 10;

/// What a plan may remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum SyncPolicy {
    /// Create, update, attach, detach and delete: the account matches the manifest.
    #[default]
    Sync,
    /// Create, update and attach only: never detach, never delete.
    UpsertOnly,
}

/// The validated safety settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Safety {
    /// What a plan may remove.
    pub policy: SyncPolicy,
    /// The largest share of managed links a plan may detach, in percent.
    pub max_delete_percent: u8,
    /// Skip the percentage check.
    pub force: bool,
    /// Skip the check against removing every managed policy.
    pub allow_empty: bool,
}

impl Default for Safety {
    /// `sync`, 30 %, nothing forced: what the CLI does without flags.
    fn default() -> Self {
        Self {
            policy: SyncPolicy::Sync,
            max_delete_percent: 30,
            force: false,
            allow_empty: false,
        }
    }
}

impl Safety {
    /// No checks at all, `sync`: the library's plain `reconcile`.
    pub fn unchecked() -> Self {
        Self {
            policy: SyncPolicy::Sync,
            max_delete_percent: 100,
            force: true,
            allow_empty: true,
        }
    }

    /// The part of `plan` this policy allows: with `upsert-only`, every detach and
    /// delete is dropped (and an app change left with nothing to do).
    pub fn filter(&self, mut plan: Plan) -> Plan {
        if self.policy == SyncPolicy::UpsertOnly {
            plan.deletes.clear();
            for change in &mut plan.app_changes {
                change.detach.clear();
            }
            plan.app_changes.retain(|c| !c.attach.is_empty());
            for blocked in &mut plan.blocked {
                blocked.detach.clear();
            }
            plan.blocked.retain(|b| !b.attach.is_empty());
            // A conversion only serves an app change that is still made.
            let changed: std::collections::HashSet<String> =
                plan.app_changes.iter().map(|c| c.app.uid.clone()).collect();
            plan.converts.retain(|c| changed.contains(&c.app.uid));
        }
        plan
    }

    /// Checks `plan` against the thresholds. The error says what the plan would do,
    /// the limit, and the flag that allows it (callers prefix "Refusing to apply: ").
    pub fn check(&self, plan: &Plan) -> Result<(), String> {
        // Not a threshold: no flag allows a plan made from a read that cannot be
        // vouched for.
        if let Some(refusal) = plan.refusal() {
            return Err(refusal);
        }
        let s = plan.summary();
        // A detach that moves a link onto the server's managed policy in the same app
        // write (`--adopt`, or a duplicate folded into the one kept) takes no access
        // away: only the others count as removals.
        let removed = plan.removals();
        let existing = plan.managed_links + removed;
        if !self.allow_empty && plan.servers.is_empty() && (s.delete > 0 || s.detach > 0) {
            return Err(format!(
                "the plan removes every managed policy ({} to delete, {} of {existing} managed links to detach) because the manifest names no MCP server. \
                 If that is intended, pass --allow-empty; otherwise check the manifest paths.",
                s.delete, s.detach
            ));
        }
        let over = removed * 100 > usize::from(self.max_delete_percent) * existing;
        if !self.force && existing >= MIN_LINKS_FOR_THRESHOLD && over {
            return Err(format!(
                "the plan detaches {removed} of {existing} managed links ({}%), more than --max-delete-percent {} allows. \
                 If that is intended, pass --force (or raise --max-delete-percent).",
                removed * 100 / existing,
                self.max_delete_percent
            ));
        }
        Ok(())
    }

    /// [`Self::filter`] then [`Self::check`].
    pub fn guard(&self, plan: Plan) -> (Plan, Result<(), String>) {
        let plan = self.filter(plan);
        let checked = self.check(&plan);
        (plan, checked)
    }
}
