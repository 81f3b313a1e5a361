//! Executes a [`Plan`] against the API in dependency order: adopt, create and update
//! policies, then one read-modify-write PUT per changed app, then delete the policies
//! nothing links any more. Writes run concurrently up to the client's concurrency limit.
//!
//! That order is what keeps access from ever dropping while a plan is applied: an
//! adoption only renames; each app PUT adds the links it gains and drops the ones it
//! loses in one write (a link moving between policies is never absent); a policy is
//! deleted only once every app that linked it was rewritten.
//!
//! Legacy policies (`--convert-legacy`) are converted first. An app is never PUT when
//! its fresh read shows something a whole-app update could damage (legacy policies,
//! write-only secrets), whatever the plan said: the account may have changed since it
//! was planned.

use std::collections::{HashMap, HashSet};
use std::fmt;

use futures::StreamExt;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::cloudflare::types::{App, PolicyLink};
use crate::cloudflare::{Client, Error};
use crate::grants;
use crate::plan::ownership::owner_of;
use crate::plan::{
    AdoptPolicy, AppChange, CreatePolicy, DeletePolicy, Plan, PolicyBody, PolicyRef,
};

/// One write that was made (or found unnecessary).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Done {
    /// `convert`, `adopt`, `create`, `update`, `app`, `delete`.
    pub kind: &'static str,
    /// What, for people: `create policy "..." (id)`.
    pub what: String,
}

/// One write that failed, or was not attempted because something it needs failed.
#[derive(Debug, Clone, Serialize)]
pub struct NotDone {
    /// What, for people.
    pub what: String,
    /// Why: the API error, or the failed step it depended on.
    pub why: String,
}

/// What an apply did. A partial apply leaves the account in a state the next reconcile
/// completes: every step is safe to repeat.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ApplyReport {
    /// Writes made: step by step (adoptions, creates, updates, apps, deletes), each step
    /// in plan order, whatever order the concurrent writes finished in.
    pub done: Vec<Done>,
    /// Writes that failed or were skipped.
    pub not_done: Vec<NotDone>,
    /// Links added and removed, for metrics.
    pub attached: usize,
    /// Links removed.
    pub detached: usize,
}

impl ApplyReport {
    /// True when every planned write happened.
    pub fn is_complete(&self) -> bool {
        self.not_done.is_empty()
    }

    /// How many writes of a kind were made.
    pub fn count(&self, kind: &str) -> usize {
        self.done.iter().filter(|d| d.kind == kind).count()
    }
}

impl fmt::Display for ApplyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} writes done, {} not done",
            self.done.len(),
            self.not_done.len()
        )?;
        for d in &self.done {
            writeln!(f, "  done: {}", d.what)?;
        }
        for n in &self.not_done {
            writeln!(f, "  NOT done: {}: {}", n.what, n.why)?;
        }
        Ok(())
    }
}

/// Applies `plan`. Never fails as a whole: failures are in the report. When `cancel`
/// fires, writes not yet started are skipped; writes in flight finish, so an app PUT
/// is never left half-made.
pub async fn apply(client: &Client, plan: &Plan, cancel: &CancellationToken) -> ApplyReport {
    let mut report = ApplyReport::default();
    let progress = client.progress();
    progress.set_message("applying");
    progress.inc_length(plan.writes() as u64);
    let not_converted = apply_converts(client, plan, cancel, &mut report).await;
    let unadopted = apply_adoptions(client, plan, cancel, &mut report).await;
    let mut ready = apply_policies(client, plan, cancel, &mut report).await;
    ready.unadopted = unadopted;
    ready.not_converted = not_converted;
    let still_linked = apply_apps(client, plan, &ready, cancel, &mut report).await;
    apply_deletes(client, plan, &still_linked, cancel, &mut report).await;
    report
}

/// What the app step needs from the policy steps.
#[derive(Default)]
struct Ready {
    /// The id of each created policy, by server uid.
    created: HashMap<String, String>,
    /// Policies whose adoption failed: no app is linked to them in their name.
    unadopted: HashSet<String>,
    /// Apps whose legacy policies could not be converted: their changes are not made.
    not_converted: HashSet<String>,
}

/// Step 0: convert legacy policies to reusable ones (`--convert-legacy`). Returns the
/// uids of the apps a conversion failed for: their changes must not be made.
async fn apply_converts(
    client: &Client,
    plan: &Plan,
    cancel: &CancellationToken,
    report: &mut ApplyReport,
) -> HashSet<String> {
    let results = each(client, &plan.converts, cancel, |c| async move {
        match client.make_reusable(&c.app.uid, &c.policy.policy_id).await {
            Ok(()) => Ok(()),
            // Already converted (a concurrent run, a lost response)? Then it is listed.
            Err(e) => match client.get_policy(&c.policy.policy_id).await {
                Ok(_) => Ok(()),
                Err(_) => Err(e.to_string()),
            },
        }
    })
    .await;
    let mut failed = HashSet::new();
    for (c, result) in results {
        client.progress().inc(1);
        let what = format!(
            "convert legacy policy {:?} ({}) on app {:?} to reusable",
            c.policy.policy_name, c.policy.policy_id, c.app.name
        );
        match result {
            Ok(()) => {
                tracing::info!(app = %c.app.uid, policy = %c.policy.policy_id, "converted legacy policy to reusable");
                report.done.push(Done {
                    kind: "convert",
                    what,
                });
            }
            Err(why) => {
                failed.insert(c.app.uid.clone());
                report.not_done.push(NotDone { what, why });
            }
        }
    }
    failed
}

/// Step 1a: rename the adopted policies. Returns the ids of those not adopted.
async fn apply_adoptions(
    client: &Client,
    plan: &Plan,
    cancel: &CancellationToken,
    report: &mut ApplyReport,
) -> HashSet<String> {
    let results = each(client, &plan.adoptions, cancel, |a| async move {
        adopt_once(client, a).await
    })
    .await;
    let mut unadopted = HashSet::new();
    for (a, result) in results {
        client.progress().inc(1);
        let what = format!(
            "adopt policy {:?} ({}) as {:?}",
            a.before.name, a.policy_id, a.after.name
        );
        match result {
            Ok(wrote) => {
                if wrote {
                    tracing::info!(policy = %a.policy_id, name = %a.after.name, "adopted policy");
                    report.done.push(Done {
                        kind: "adopt",
                        what,
                    });
                }
            }
            Err(why) => {
                unadopted.insert(a.policy_id.clone());
                report.not_done.push(NotDone { what, why });
            }
        }
    }
    unadopted
}

/// Renames a hand-made policy into the managed name, starting from the policy as it is
/// now so every field someone set is kept. Refuses when its decided fields are no
/// longer what the plan adopted (it might not be adoptable any more). Returns false
/// when it already carries the managed name (a concurrent run adopted it).
async fn adopt_once(client: &Client, adopt: &AdoptPolicy) -> Result<bool, String> {
    let current = client
        .get_policy(&adopt.policy_id)
        .await
        .map_err(|e| e.to_string())?;
    let have = PolicyBody::of(&current);
    if have.same_meaning(&adopt.after) {
        return Ok(false);
    }
    if !have.same_meaning(&adopt.before) {
        return Err(
            "not adopted: the policy changed since the plan was made; run plan again".into(),
        );
    }
    client
        .put_policy(&adopt.policy_id, &adopt.after.put_body(&current))
        .await
        .map(|_| true)
        .map_err(|e| e.to_string())
}

/// Step 1b: create the missing policies and put back the edited ones.
async fn apply_policies(
    client: &Client,
    plan: &Plan,
    cancel: &CancellationToken,
    report: &mut ApplyReport,
) -> Ready {
    let mut created: HashMap<String, String> = HashMap::new();
    let create_results = each(client, &plan.creates, cancel, |c| async move {
        create_once(client, c).await.map_err(|e| e.to_string())
    })
    .await;
    for (c, result) in create_results {
        client.progress().inc(1);
        let what = format!("create policy {:?}", c.body.name);
        match result {
            Ok(id) => {
                tracing::info!(policy = %id, name = %c.body.name, "created policy");
                report.done.push(Done {
                    kind: "create",
                    what: format!("{what} ({id})"),
                });
                created.insert(c.server.uid.clone(), id);
            }
            Err(why) => report.not_done.push(NotDone { what, why }),
        }
    }
    let update_results = each(client, &plan.updates, cancel, |u| async move {
        // PUT replaces: start from the policy as it is now, so settings someone added
        // by hand (session duration, ...) are kept.
        let current = client.get_policy(&u.policy_id).await;
        let put = match current {
            Ok(current) => {
                client
                    .put_policy(&u.policy_id, &u.after.put_body(&current))
                    .await
            }
            Err(e) => Err(e),
        };
        put.map_err(|e| e.to_string())
    })
    .await;
    for (u, result) in update_results {
        client.progress().inc(1);
        let what = format!("update policy {:?} ({})", u.after.name, u.policy_id);
        match result {
            Ok(_) => {
                tracing::info!(policy = %u.policy_id, "updated policy");
                report.done.push(Done {
                    kind: "update",
                    what,
                });
            }
            Err(why) => report.not_done.push(NotDone { what, why }),
        }
    }
    Ready {
        created,
        ..Ready::default()
    }
}

/// Step 2: one fresh read-modify-write per app. Returns the policies that an app
/// still links because its change failed: those must not be deleted.
async fn apply_apps<'p>(
    client: &Client,
    plan: &'p Plan,
    ready: &Ready,
    cancel: &CancellationToken,
    report: &mut ApplyReport,
) -> HashSet<&'p str> {
    let results = each(client, &plan.app_changes, cancel, |change| {
        change_app(client, change, ready)
    })
    .await;
    let mut still_linked = HashSet::new();
    for (change, result) in results {
        client.progress().inc(1);
        let what = format!(
            "update policies of app {:?} ({})",
            change.app.name, change.app.uid
        );
        match result {
            Ok(AppOutcome {
                attached,
                detached,
                wrote,
            }) => {
                report.attached += attached;
                report.detached += detached;
                if wrote {
                    tracing::info!(app = %change.app.uid, attached, detached, "updated app policies");
                    report.done.push(Done { kind: "app", what });
                }
            }
            Err(why) => {
                still_linked.extend(change.detach.iter().map(|d| d.policy_id.as_str()));
                report.not_done.push(NotDone { what, why });
            }
        }
    }
    still_linked
}

/// Step 3: delete the policies nothing links any more.
async fn apply_deletes(
    client: &Client,
    plan: &Plan,
    still_linked: &HashSet<&str>,
    cancel: &CancellationToken,
    report: &mut ApplyReport,
) {
    let owner = plan.owner.as_str();
    let results = each(client, &plan.deletes, cancel, |d| async move {
        if still_linked.contains(d.policy_id.as_str()) {
            return Err("skipped: an app still links it (its app update failed)".to_owned());
        }
        if owner_of(&d.policy_name) != Some(owner) {
            still_adoptable(client, d).await?;
        }
        client
            .delete_policy(&d.policy_id)
            .await
            .map_err(|e| e.to_string())
    })
    .await;
    for (d, result) in results {
        client.progress().inc(1);
        let what = format!("delete policy {:?} ({})", d.policy_name, d.policy_id);
        match result {
            Ok(()) => {
                tracing::info!(policy = %d.policy_id, "deleted policy");
                report.done.push(Done {
                    kind: "delete",
                    what,
                });
            }
            Err(why) => report.not_done.push(NotDone { what, why }),
        }
    }
}

/// Before a hand-made policy merged by `--adopt` is deleted: it must still be the plain
/// grant the plan saw (same name, same one server), or it is left alone.
async fn still_adoptable(client: &Client, delete: &DeletePolicy) -> Result<(), String> {
    let current = client
        .get_policy(&delete.policy_id)
        .await
        .map_err(|e| e.to_string())?;
    let server = delete.server.as_ref().map(|s| s.uid.as_str());
    if current.name() == delete.policy_name && grants::plain_server_of(&current).ok() == server {
        Ok(())
    } else {
        Err("not deleted: the policy changed since the plan was made; run plan again".into())
    }
}

const CANCELLED: &str = "cancelled before it started";

/// Runs `step` on every item, up to the client's concurrency, and returns the results in
/// the items' order (so reports read the same on every run). Once `cancel` fires, the
/// items not yet started are reported as cancelled; those running finish.
async fn each<'a, T, R, F, Fut>(
    client: &Client,
    items: &'a [T],
    cancel: &CancellationToken,
    step: F,
) -> Vec<(&'a T, Result<R, String>)>
where
    T: Sync,
    F: Fn(&'a T) -> Fut,
    Fut: Future<Output = Result<R, String>>,
{
    // The futures are made before the first await: a `map` closure held across an
    // await would make the apply future `!Send` (rustc's higher-ranked closure limit).
    let steps: Vec<_> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            // Futures are lazy: nothing runs until polled, and a cancelled one never is.
            let step = step(item);
            async move {
                if cancel.is_cancelled() {
                    return (i, item, Err(CANCELLED.to_owned()));
                }
                (i, item, step.await)
            }
        })
        .collect();
    // Unordered, so one slow write never holds the others back; sorted afterwards.
    let mut done: Vec<(usize, &T, Result<R, String>)> = futures::stream::iter(steps)
        .buffer_unordered(client.config().concurrency.max(1))
        .collect()
        .await;
    done.sort_by_key(|(i, _, _)| *i);
    done.into_iter()
        .map(|(_, item, result)| (item, result))
        .collect()
}

/// Creates a policy without ever creating it twice: when the outcome of a POST is
/// unknown, the policies are listed and an existing match is adopted before any retry.
async fn create_once(client: &Client, create: &CreatePolicy) -> Result<String, Error> {
    const ATTEMPTS: usize = 3;
    let body = create.body.to_json();
    let mut last = None;
    for _ in 0..ATTEMPTS {
        match client.create_policy(&body).await {
            Ok(policy) => return Ok(policy.id().to_owned()),
            Err(e @ Error::OutcomeUnknown { .. }) => {
                tracing::warn!(error = %e, "policy create outcome unknown; looking before creating again");
                let policies = client.list_policies().await?;
                // The same choice the diff makes among duplicates: the oldest.
                let found = policies
                    .iter()
                    .filter(|p| {
                        p.name() == create.body.name
                            && p.linked_app_uids() == [create.server.uid.as_str()]
                    })
                    .min_by_key(|p| p.age_key());
                if let Some(existing) = found {
                    tracing::info!(policy = %existing.id(), "the lost create had happened; using that policy");
                    return Ok(existing.id().to_owned());
                }
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| Error::Transport {
        request: "POST policy".into(),
        reason: "no attempt made".into(),
    }))
}

struct AppOutcome {
    attached: usize,
    detached: usize,
    wrote: bool,
}

/// GETs the app fresh, changes only its policy list, and PUTs it back with every other
/// field as received. Other policies keep their order and precedence; new links go
/// after the highest precedence.
async fn change_app(
    client: &Client,
    change: &AppChange,
    ready: &Ready,
) -> Result<AppOutcome, String> {
    if ready.not_converted.contains(&change.app.uid) {
        return Err(
            "skipped: converting the app's legacy policies failed, and an app update would delete them"
                .to_owned(),
        );
    }
    let mut want = Vec::new();
    for attach in &change.attach {
        match &attach.policy {
            PolicyRef::Existing { id } if ready.unadopted.contains(id) => {
                return Err(format!(
                    "skipped: the policy {id} for server {:?} was not adopted",
                    attach.server.name
                ));
            }
            PolicyRef::Existing { id } => want.push(id.clone()),
            PolicyRef::New { server_uid } => match ready.created.get(server_uid) {
                Some(id) => want.push(id.clone()),
                None => {
                    return Err(format!(
                        "skipped: the policy for server {:?} was not created",
                        attach.server.name
                    ));
                }
            },
        }
    }
    let drop: HashSet<&str> = change.detach.iter().map(|d| d.policy_id.as_str()).collect();
    let app = client
        .get_app(&change.app.uid)
        .await
        .map_err(|e| e.to_string())?;
    let legacy = app.marked_legacy_policy_ids();
    if !legacy.is_empty() {
        return Err(format!(
            "not written: the app carries legacy (app-scoped) policies ({}); an app update would be refused or delete them. Convert them (--convert-legacy, or make_reusable) and run again",
            legacy.join(", ")
        ));
    }
    let secrets = app.write_only_secrets();
    if !secrets.is_empty() {
        return Err(format!(
            "not written: the app's configuration carries write-only secret field(s) ({}) that a read may not return, so an app update could clear them. Attach the policy by hand in the dashboard",
            secrets.join(", ")
        ));
    }
    let (links, attached, detached) = relink(&app, &want, &drop);
    if attached == 0 && detached == 0 {
        // Someone (a concurrent run) already made this change.
        return Ok(AppOutcome {
            attached,
            detached,
            wrote: false,
        });
    }
    client
        .put_app(app.id(), &app.put_body(&links))
        .await
        .map_err(|e| e.to_string())?;
    Ok(AppOutcome {
        attached,
        detached,
        wrote: true,
    })
}

/// The new link list of `app`: its links minus `drop`, plus `add` after the highest
/// precedence. Returns the list and how many links were added and removed.
fn relink(app: &App, add: &[String], drop: &HashSet<&str>) -> (Vec<PolicyLink>, usize, usize) {
    let mut links = app.policy_links();
    links.sort_by_key(|l| l.precedence);
    let before = links.len();
    links.retain(|l| !drop.contains(l.id.as_str()));
    let detached = before - links.len();
    let mut next = links.iter().map(|l| l.precedence).max().unwrap_or(0);
    let mut attached = 0;
    for id in add {
        if links.iter().any(|l| &l.id == id) {
            continue;
        }
        next += 1;
        links.push(PolicyLink {
            id: id.clone(),
            precedence: next,
        });
        attached += 1;
    }
    (links, attached, detached)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn relink_keeps_others_in_place_and_appends_after_the_highest() {
        let app = App::from_value(json!({
            "id": "a",
            "policies": [
                {"id": "deny", "precedence": 5},
                {"id": "allow", "precedence": 2},
                {"id": "old", "precedence": 7}
            ]
        }))
        .unwrap();
        let drop = HashSet::from(["old"]);
        let (links, attached, detached) =
            relink(&app, &["new".to_owned(), "allow".to_owned()], &drop);
        assert_eq!((attached, detached), (1, 1));
        let got: Vec<(&str, u32)> = links
            .iter()
            .map(|l| (l.id.as_str(), l.precedence))
            .collect();
        assert_eq!(got, [("allow", 2), ("deny", 5), ("new", 6)]);
    }
}

#[cfg(test)]
mod send_check {
    /// Apply must be spawnable (the controller and library users run it on tokio).
    #[allow(dead_code)]
    fn apply_is_send(
        client: &crate::cloudflare::Client,
        plan: &crate::plan::Plan,
        cancel: &tokio_util::sync::CancellationToken,
    ) {
        fn assert_send<T: Send>(_: T) {}
        assert_send(super::apply(client, plan, cancel));
    }
}
