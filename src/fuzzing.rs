//! The bodies of the fuzz targets in `fuzz/` (run by `cargo fuzz`), kept in the
//! library so that the regression tests (`tests/fuzz_regressions.rs`) run exactly the
//! same checks on the inputs that once failed. Each function must not panic on any
//! input; the `assert!`s state what must hold whatever the input. Hidden from the
//! documentation; not a stable API.

use std::fmt::Write as _;

use serde_json::Value;

use crate::cloudflare::fuzzing as api;
use crate::cloudflare::types::{App, Policy};
use crate::inventory::Inventory;
use crate::manifest::{self, AppRef, MAX_FILE_BYTES, Manifest, ManifestError};

/// The demo account's fixture: the inventory the fuzzed manifests resolve against.
const DEMO_ACCOUNT: &str = include_str!("sim/demo_account.json");
/// The demo manifest: what fuzzed accounts are planned against.
const DEMO_MANIFEST: &str = include_str!("../examples/demo.yaml");

/// Manifest loading: YAML, `${VAR}` expansion, validation, then resolution against the
/// demo account and a plan. Input: `VALUE \0 MANIFEST`; every `${VAR}` but `${UNSET}`
/// expands to `VALUE`.
pub fn manifest(data: &[u8]) {
    let (value, text) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&[][..], data),
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let value = String::from_utf8_lossy(value).into_owned();
    let env = |name: &str| (name != "UNSET").then(|| value.clone());
    match manifest::parse_str("fuzz.yaml", text, &env) {
        Ok(m) => {
            // The YAML parser caps the scalars (alias replays included) at the file
            // limit, and `${VAR}` expansion may add at most as much as the file leaves.
            assert!(
                expanded_len(&m) <= 2 * MAX_FILE_BYTES,
                "expansion passed the file budget"
            );
            let inventory = demo_inventory();
            let owner = m.owner.clone().unwrap_or_else(|| "fuzz".to_owned());
            match manifest::resolve(&m, &owner, &inventory) {
                Ok(desired) => plan(&desired, &inventory),
                Err(e) => check_error(&e),
            }
        }
        Err(e) => check_error(&e),
    }
}

/// API responses: one read of the apps or the policies list (its pages), one app or
/// policy, or a whole account (both lists) planned against the demo manifest.
/// Input: a selector byte (kind in the low bits, status in the high bits), then the
/// body. A list's pages are separated by `0xFF`, an account's two lists by `0xFE`
/// (neither byte ever appears in JSON).
pub fn api_response(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let status = [200, 200, 200, 200, 201, 404, 429, 500][usize::from(selector >> 5)];
    match selector % 5 {
        0 => {
            if let Ok(apps) = api::apps_list(&pages(body)) {
                check_apps(&apps);
            }
        }
        1 => {
            if let Ok(policies) = api::policies_list(&pages(body)) {
                check_policies(&policies);
            }
        }
        2 => match api::app(status, body) {
            Ok(app) => check_put_body(&app),
            Err(e) => {
                let _ = e.to_string();
            }
        },
        3 => match api::policy(status, body) {
            Ok(policy) => check_policies(&[policy]),
            Err(e) => {
                let _ = e.to_string();
            }
        },
        _ => {
            let (apps, policies) = match body.iter().position(|&b| b == 0xFE) {
                Some(i) => (&body[..i], &body[i + 1..]),
                None => (body, &b"{\"success\":true,\"result\":[]}"[..]),
            };
            let (Ok(apps), Ok(policies)) = (
                api::apps_list(&pages(apps)),
                api::policies_list(&pages(policies)),
            ) else {
                return;
            };
            check_apps(&apps);
            check_policies(&policies);
            let inventory = Inventory::new(apps, policies);
            let _ = inventory.fingerprint();
            for app in inventory.apps() {
                let _ = inventory.attached(app);
            }
            let m = manifest::parse_str("demo.yaml", DEMO_MANIFEST, &|_| None)
                .expect("the demo manifest is valid");
            match manifest::resolve(&m, "platform", &inventory) {
                Ok(desired) => plan(&desired, &inventory),
                Err(e) => check_error(&e),
            }
        }
    }
}

/// A list's page bodies, separated by `0xFF`.
fn pages(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split(|&b| b == 0xFF).collect()
}

/// Bytes of every string the manifest holds after expansion.
fn expanded_len(m: &Manifest) -> usize {
    let text = |r: &AppRef| match r {
        AppRef::Name(s) | AppRef::Domain(s) | AppRef::Uid(s) => s.len(),
    };
    m.owner.as_ref().map_or(0, String::len)
        + m.account_id.as_ref().map_or(0, String::len)
        + m.servers
            .iter()
            .map(|s| {
                text(&s.app.value) + s.downstream.iter().map(|d| text(&d.value)).sum::<usize>()
            })
            .sum::<usize>()
}

/// A manifest error renders, as plain text and with miette's snippets, in bounded size.
fn check_error(e: &ManifestError) {
    let plain = e.to_string();
    let lines = plain.lines().count();
    assert!(
        lines <= manifest::MAX_SHOWN_PROBLEMS + 2,
        "{lines} lines of problems"
    );
    assert!(
        plain.len() <= 256 * 1024,
        "{} bytes of problems",
        plain.len()
    );
    let mut fancy = String::new();
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor());
    if handler.render_report(&mut fancy, e).is_ok() {
        assert!(
            fancy.len() <= 2 * 1024 * 1024,
            "{} bytes rendered",
            fancy.len()
        );
    }
}

/// The plan of `desired` renders in every format.
fn plan(desired: &manifest::Desired, inventory: &Inventory) {
    let plan = crate::plan::diff(desired, inventory);
    let mut out = Vec::new();
    let _ = crate::plan::text::render(&plan, crate::plan::text::Palette::plain(), &mut out);
    let _ = crate::plan::markdown::render_to_string(&plan, &[], 65_000);
    let _ = plan.writes();
}

/// Listed apps are unique by uid, each with an id, no more than a list may hold, and
/// their views never panic.
fn check_apps(apps: &[App]) {
    assert!(apps.len() <= api::MAX_ITEMS, "{} apps kept", apps.len());
    let mut seen = std::collections::HashSet::new();
    for app in apps {
        assert!(!app.uid().is_empty(), "an app without an id was kept");
        assert!(seen.insert(app.uid()), "app {} kept twice", app.uid());
        let mut s = String::new();
        let _ = write!(
            s,
            "{}{}{}{:?}{:?}{:?}",
            app.id(),
            app.name(),
            app.app_type(),
            app.domains(),
            app.saas_auth_type(),
            app.policy_links()
        );
    }
    let inventory = Inventory::new(apps.to_vec(), Vec::new());
    assert_eq!(inventory.apps().len(), apps.len());
    for app in inventory.apps() {
        let _ = inventory.attached(app);
    }
}

/// Kept policies have ids, unique; their views never panic.
fn check_policies(policies: &[Policy]) {
    let mut seen = std::collections::HashSet::new();
    for p in policies {
        assert!(seen.insert(p.id()), "policy {} kept twice", p.id());
        let _ = (p.name(), p.decision(), p.rules("include"));
    }
}

/// An app PUT body keeps every field received except the read-only ones, unknown ones
/// included, and carries exactly the links asked for.
fn check_put_body(app: &App) {
    let links = app.policy_links();
    let body = app.put_body(&links);
    let Value::Object(body) = body else {
        panic!("a PUT body that is not an object");
    };
    for (key, value) in app.raw() {
        match key.as_str() {
            "id" | "uid" | "aud" | "created_at" | "updated_at" => {
                assert!(!body.contains_key(key), "read-only `{key}` sent back");
            }
            "policies" => {}
            _ => assert_eq!(body.get(key), Some(value), "field `{key}` lost or changed"),
        }
    }
    let sent: Vec<crate::cloudflare::types::PolicyLink> =
        serde_json::from_value(body["policies"].clone()).expect("links serialize");
    assert_eq!(sent, links);
}

fn demo_inventory() -> Inventory {
    let seed: Value = serde_json::from_str(DEMO_ACCOUNT).expect("the demo fixture is JSON");
    let list = |key: &str| seed[key].as_array().cloned().unwrap_or_default();
    Inventory::new(
        list("apps")
            .into_iter()
            .filter_map(App::from_value)
            .collect(),
        list("policies")
            .into_iter()
            .filter_map(Policy::from_value)
            .collect(),
    )
}
