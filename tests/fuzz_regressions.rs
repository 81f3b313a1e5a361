//! The fuzz targets' checks (`mcp_access::fuzzing`) on every input that once failed
//! them (`fuzz/regressions/<target>/`), and on the seeds the fuzzers start from (the
//! example manifests and the demo account's API responses), in the normal test suite.

use std::path::Path;

use mcp_access::fuzzing;
use serde_json::{Value, json};

fn inputs(dir: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut found: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().path())
                .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != ".gitkeep"))
                .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// Runs `target` on `input`, naming the input when it panics.
fn run(target: fn(&[u8]), name: &str, input: &[u8]) {
    assert!(
        std::panic::catch_unwind(|| target(input)).is_ok(),
        "fuzz check failed on {name}"
    );
}

#[test]
fn manifest_regressions_and_seeds_pass_the_fuzz_checks() {
    let mut n = 0;
    for (name, input) in inputs("fuzz/regressions/manifest") {
        run(fuzzing::manifest, &name, &input);
        n += 1;
    }
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for dir in [examples.clone(), examples.join("shared-downstreams")] {
        for (name, text) in inputs(dir.to_str().unwrap()) {
            if Path::new(&name).extension().is_some_and(|e| e == "yaml") {
                run(fuzzing::manifest, &name, &text);
                let mut with_env = b"mcp-server-app\0".to_vec();
                with_env.extend(
                    String::from_utf8(text)
                        .unwrap()
                        .replace("mcp-server-app", "${APP}")
                        .bytes(),
                );
                run(fuzzing::manifest, &name, &with_env);
                n += 1;
            }
        }
    }
    assert!(n >= 4, "{n} inputs");
}

fn page(items: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"success": true, "errors": [], "result": items})).unwrap()
}

fn selected(selector: u8, body: &[u8]) -> Vec<u8> {
    let mut input = vec![selector];
    input.extend_from_slice(body);
    input
}

#[test]
fn api_response_regressions_and_seeds_pass_the_fuzz_checks() {
    for (name, input) in inputs("fuzz/regressions/api_response") {
        run(fuzzing::api_response, &name, &input);
    }
    let account: Value =
        serde_json::from_str(include_str!("../src/sim/demo_account.json")).unwrap();
    let (apps, policies) = (&account["apps"], &account["policies"]);
    run(
        fuzzing::api_response,
        "apps page",
        &selected(0, &page(apps)),
    );
    run(
        fuzzing::api_response,
        "policies page",
        &selected(1, &page(policies)),
    );
    for app in apps.as_array().unwrap() {
        let one = serde_json::to_vec(&json!({"success": true, "result": app})).unwrap();
        run(fuzzing::api_response, "app", &selected(2, &one));
    }
    for policy in policies.as_array().unwrap() {
        let one = serde_json::to_vec(&json!({"success": true, "result": policy})).unwrap();
        run(fuzzing::api_response, "policy", &selected(3, &one));
    }
    let mut both = selected(4, &page(apps));
    both.push(0xFE);
    both.extend(page(policies));
    run(fuzzing::api_response, "account", &both);
    // The apps list in two pages of 5.
    let list = apps.as_array().unwrap();
    let paged = |items: &[Value], n: usize| {
        serde_json::to_vec(&json!({
            "success": true, "result": items,
            "result_info": {"page": n, "per_page": 5, "total_count": list.len()}
        }))
        .unwrap()
    };
    let mut two = selected(0, &paged(&list[..5], 1));
    two.push(0xFF);
    two.extend(paged(&list[5..], 2));
    run(fuzzing::api_response, "apps in two pages", &two);
}
