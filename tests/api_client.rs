//! The API client's behaviour a user meets, through the binary against the simulator:
//! sharing the rate limit politely, the errors people get (with hints), a wrong or
//! unreachable URL.

mod common;

use std::time::{Duration, Instant};

use common::{cli, manifest_file};
use mcp_access::cloudflare::{Client, ClientConfig};
use mcp_access::sim::{RateLimit, Seed, SimConfig, Simulator};
use secrecy::SecretString;

const DEMO: &str = include_str!("../examples/demo.yaml");

fn output(cmd: &mut assert_cmd::Command) -> (i32, String) {
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reconcile_converges_without_a_single_429_when_most_of_the_budget_is_spent() {
    // 60 requests per 4 s window, 45 of them spent by someone else at the start of
    // every window: 15 left, of which the client keeps a reserve for the others.
    let config = SimConfig {
        rate_limit: Some(RateLimit {
            requests: 60,
            window: Duration::from_secs(4),
        }),
        rate_limit_spent: 45,
        ..SimConfig::default()
    };
    let sim = Simulator::start(config, Seed::demo()).await.unwrap();
    let file = manifest_file(DEMO);
    let started = Instant::now();
    let (code, out) = tokio::task::block_in_place(|| {
        output(
            cli(&sim)
                .args(["reconcile", "-f"])
                .arg(file.path())
                .timeout(Duration::from_secs(120)),
        )
    });
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("The account matches the manifest"), "{out}");
    let journal = sim.journal();
    assert!(
        journal.iter().all(|e| e.status != 429),
        "a 429 was caused: {journal:#?}"
    );
    // The reserve was kept: it had to pause for at least one window reset.
    assert!(out.contains("budget is nearly spent"), "{out}");
    assert!(journal.len() > 10, "{journal:#?}");
    assert!(started.elapsed() < Duration::from_secs(100));
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_errors_show_the_cause_and_the_permission_the_command_needs() {
    let sim = Simulator::start(SimConfig::default(), Seed::demo())
        .await
        .unwrap();
    let file = manifest_file(DEMO);
    let path = file.path().to_str().unwrap().to_owned();

    // A malformed token: 6003 with its cause (6111), and what to check.
    let (code, out) = tokio::task::block_in_place(|| {
        output(
            cli(&sim)
                .env("CLOUDFLARE_API_TOKEN", "bad!token")
                .args(["plan", "-f", &path]),
        )
    });
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("Cloudflare error 6003: Invalid request headers (caused by Cloudflare error 6111: Invalid format for Authorization header)"),
        "{out}"
    );
    assert!(
        out.contains("hint: the API token is missing or malformed"),
        "{out}"
    );
    assert!(!out.contains("bad!token"), "{out}");

    // A wrong token: 10000, and the permission plan needs (Read) or reconcile (Write).
    for (command, permission) in [
        ("plan", "Access: Apps and Policies Read"),
        ("check", "Access: Apps and Policies Read"),
        ("reconcile", "Access: Apps and Policies Write"),
    ] {
        let (code, out) = tokio::task::block_in_place(|| {
            output(
                cli(&sim)
                    .env("CLOUDFLARE_API_TOKEN", "wrong-token-4567")
                    .args([command, "-f", &path]),
            )
        });
        assert_eq!(code, 1, "{command}: {out}");
        assert!(out.contains("Cloudflare error 10000"), "{command}: {out}");
        assert!(out.contains(permission), "{command}: {out}");
        assert!(
            out.contains(&format!("must cover account {}", sim.account_id())),
            "{command}: {out}"
        );
    }

    // A token for another account: 9109, same hint.
    let other = "ffffffffffffffffffffffffffffffff";
    let (code, out) = tokio::task::block_in_place(|| {
        output(
            cli(&sim)
                .env("CLOUDFLARE_ACCOUNT_ID", other)
                .args(["reconcile", "-f", &path]),
        )
    });
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Cloudflare error 9109"), "{out}");
    assert!(
        out.contains("Access: Apps and Policies Write") && out.contains(other),
        "{out}"
    );
    assert!(sim.writes().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_id_that_cannot_be_one_is_refused_before_any_request() {
    let sim = Simulator::start(SimConfig::default(), Seed::demo())
        .await
        .unwrap();
    let file = manifest_file(DEMO);
    for id in [
        "my-account",
        "0123456789abcdef",
        "0123456789abcdef0123456789abcdeg",
    ] {
        let (code, out) = tokio::task::block_in_place(|| {
            output(
                cli(&sim)
                    .env("CLOUDFLARE_ACCOUNT_ID", id)
                    .args(["plan", "-f"])
                    .arg(file.path()),
            )
        });
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("32 hexadecimal characters"), "{out}");
    }
    assert!(sim.journal().is_empty(), "{:#?}", sim.journal());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_base_path_is_7003_with_a_hint_and_never_already_deleted() {
    let sim = Simulator::start(SimConfig::default(), Seed::demo())
        .await
        .unwrap();
    let wrong = format!("{}/v5", sim.base_url());
    let file = manifest_file(DEMO);
    let (code, out) = tokio::task::block_in_place(|| {
        output(
            cli(&sim)
                .args(["plan", "--api-url", &wrong, "-f"])
                .arg(file.path()),
        )
    });
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("HTTP 404, Cloudflare error 7003: No route for the URI"),
        "{out}"
    );
    assert!(
        out.contains("hint: no such route: check --api-url"),
        "{out}"
    );

    // A delete answered 404 / 7003 is an error, not "gone"; 404 / 12135 is gone.
    let policy = sim.policies()[0]["id"].as_str().unwrap().to_owned();
    let client = |base: String| {
        Client::new(ClientConfig::new(
            base,
            sim.account_id(),
            SecretString::from(sim.token().to_owned()),
        ))
        .unwrap()
    };
    let err = client(wrong).delete_policy(&policy).await.unwrap_err();
    assert!(!err.is_not_found(), "{err}");
    assert!(err.to_string().contains("7003"), "{err}");
    client(sim.base_url())
        .delete_policy("00000000-0000-4000-8000-000000000000")
        .await
        .expect("404 / 12135 is gone");
}

#[test]
fn an_unreachable_api_says_so_within_seconds_and_names_the_url() {
    let file = manifest_file(DEMO);
    let started = Instant::now();
    let (code, out) = output(
        assert_cmd::Command::cargo_bin("mcp-access")
            .unwrap()
            .env_clear()
            .env("CLOUDFLARE_ACCOUNT_ID", "0123456789abcdef0123456789abcdef")
            .env("CLOUDFLARE_API_TOKEN", "t0ken-for-nowhere")
            .env("NO_COLOR", "1")
            .args(["plan", "--api-url", "http://127.0.0.1:1/client/v4", "-f"])
            .arg(file.path())
            .timeout(Duration::from_secs(90)),
    );
    let elapsed = started.elapsed();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("cannot reach the Cloudflare API at http://127.0.0.1:1/client/v4"),
        "{out}"
    );
    assert!(out.contains("--api-url / CLOUDFLARE_API_BASE_URL"), "{out}");
    // Each retry after the first is logged while it waits.
    assert!(
        out.contains("retrying GET /accounts/") && out.contains("(attempt 3)"),
        "{out}"
    );
    // A short budget (about 10 s), not the 6-minute deadline.
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_never_reaches_output_whatever_its_source() {
    // An account where the token's value is also an app's name, so that the plan,
    // the logs and GitHub's files would all carry it.
    const TOKEN: &str = "tok3n-value-0042";
    let mut seed = Seed::demo();
    seed.apps.push(serde_json::json!({
        "name": TOKEN, "type": "self_hosted", "domain": "tok.example.com"
    }));
    let config = SimConfig {
        token: TOKEN.to_owned(),
        ..SimConfig::default()
    };
    let sim = Simulator::start(config, seed).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let github_output = dir.path().join("output");
    let summary = dir.path().join("summary");
    let manifest = format!(
        "owner: platform\nservers:\n  - app: mcp-server-app\n    downstream: [\"{TOKEN}\"]\n"
    );
    let file = manifest_file(&manifest);
    for format in ["text", "json", "markdown"] {
        let (code, out) = tokio::task::block_in_place(|| {
            output(
                cli(&sim)
                    .env("GITHUB_OUTPUT", &github_output)
                    .env("GITHUB_STEP_SUMMARY", &summary)
                    .args(["plan", "-vv", "-o", format, "-f"])
                    .arg(file.path()),
            )
        });
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("[redacted]"), "{format}: {out}");
        assert!(!out.contains(TOKEN), "{format}: {out}");
    }
    for path in [&github_output, &summary] {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(
            text.contains("[redacted]") && !text.contains(TOKEN),
            "{text}"
        );
    }

    // Manifest values that expand to the token, echoed in errors.
    for manifest in [
        "owner: platform\nservers:\n  - app: ${CLOUDFLARE_API_TOKEN}-missing\n",
        "owner: ${CLOUDFLARE_API_TOKEN}!\nservers:\n  - app: mcp-server-app\n",
    ] {
        let file = manifest_file(manifest);
        let (code, out) =
            tokio::task::block_in_place(|| output(cli(&sim).args(["plan", "-f"]).arg(file.path())));
        assert_eq!(code, 1, "{out}");
        assert!(!out.contains(TOKEN), "{out}");
        assert!(out.contains("[redacted]"), "{out}");
    }
}
