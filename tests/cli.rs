//! The binary's surface: exit codes, output streams, errors, the demo, and that the
//! token never shows.

mod common;

use common::{cli, manifest_file};
use std::time::Duration;

use assert_cmd::Command;
use mcp_access::sim::{Seed, SimConfig, Simulator};
use predicates::prelude::*;

const DEMO: &str = "
owner: platform
servers:
  - app: mcp-server-app
    downstream: [Internal API, Company wiki]
";

async fn sim() -> Simulator {
    Simulator::start(SimConfig::default(), Seed::demo())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_with_exit_code_exits_2_and_writes_nothing_then_reconcile_then_0() {
    let sim = sim().await;
    let file = manifest_file(DEMO);
    let path = file.path().to_str().unwrap().to_owned();

    let plan = cli(&sim)
        .args(["plan", "--exit-code", "-f", &path])
        .assert()
        .code(2);
    let out = String::from_utf8(plan.get_output().stdout.clone()).unwrap();
    assert!(
        out.contains("+ create policy \"[mcp-access:platform] MCP server mcp-server-app\""),
        "{out}"
    );
    assert!(out.contains("> attach to \"Internal API\""), "{out}");
    assert!(
        out.contains("Plan: 1 to create, 0 to update, 2 to attach, 0 to detach, 0 to delete."),
        "{out}"
    );
    assert!(out.contains("Unmanaged linked-token grants"), "{out}");
    assert!(
        !out.contains('\u{1b}'),
        "no colour with NO_COLOR or off a TTY"
    );
    assert!(sim.writes().is_empty());

    // Without --exit-code a pending plan is still success.
    cli(&sim).args(["plan", "-f", &path]).assert().code(0);
    cli(&sim)
        .args(["reconcile", "--dry-run", "--exit-code", "-f", &path])
        .assert()
        .code(2);
    assert!(sim.writes().is_empty());

    cli(&sim)
        .args(["reconcile", "-f", &path])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Applied 3 write(s)"));
    cli(&sim)
        .args(["plan", "--exit-code", "-f", &path])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "No changes. The account matches the manifest.",
        ));
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_exit_1_and_never_show_the_token() {
    let sim = sim().await;
    let file = manifest_file("servers:\n  - app: mcp-server-app\n    downstrem: [x]\n");
    let path = file.path().to_str().unwrap().to_owned();
    cli(&sim)
        .args(["validate", "-f", &path])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("did you mean `downstream`"));

    // A wrong token: the API refuses; the error names the request, not the token.
    let good = manifest_file(DEMO);
    let good = good.path().to_str().unwrap().to_owned();
    let out = cli(&sim)
        .env("CLOUDFLARE_API_TOKEN", "wrong-token-value-123")
        .args(["plan", "-v", "-f", &good])
        .assert()
        .code(1);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.get_output().stdout),
        String::from_utf8_lossy(&out.get_output().stderr)
    );
    assert!(all.contains("10000"), "names the Cloudflare code: {all}");
    assert!(
        !all.contains("wrong-token-value-123"),
        "token leaked: {all}"
    );
    assert!(sim.writes().is_empty());

    cli(&sim)
        .env_remove("CLOUDFLARE_API_TOKEN")
        .args(["plan", "-f", &good])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("CLOUDFLARE_API_TOKEN"));
}

#[test]
fn demo_runs_the_whole_story() {
    let out = Command::cargo_bin("mcp-access")
        .unwrap()
        .env("NO_COLOR", "1")
        .arg("demo")
        .timeout(Duration::from_secs(60))
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    // The demo account's hand-made grant is adopted, not duplicated.
    assert!(
        text.contains(
            "Plan: 1 to create, 0 to update, 3 to attach, 0 to detach, 0 to delete, 1 to adopt."
        ),
        "{text}"
    );
    assert!(
        text.contains("= adopt policy \"Allow requests from MCP server\" (f1a2b3c4-0005-4000-8000-00000000a005) for server support-mcp"),
        "{text}"
    );
    assert!(
        text.trim_end()
            .ends_with("No changes. The account matches the manifest."),
        "{text}"
    );
    assert!(text.contains("Legacy CI token grant"), "{text}");
    assert!(text.contains("Applied"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn owner_flag_overrides_the_manifests_owner() {
    let sim = sim().await;
    let file = manifest_file(DEMO);
    let path = file.path().to_str().unwrap().to_owned();
    cli(&sim)
        .args(["plan", "--owner", "security", "-f", &path])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "+ create policy \"[mcp-access:security] MCP server mcp-server-app\"",
        ));
    cli(&sim)
        .args(["plan", "--owner", "Not Valid", "-f", &path])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--owner"));
}

/// The binary with no environment at all.
fn bare() -> Command {
    let mut cmd = Command::cargo_bin("mcp-access").unwrap();
    cmd.env_clear()
        .env("NO_COLOR", "1")
        .timeout(Duration::from_secs(30));
    cmd
}

fn help(args: &[&str]) -> String {
    let out = bare().args(args).arg("--help").assert().code(0);
    String::from_utf8(out.get_output().stdout.clone()).unwrap()
}

/// Whether `--help` text has a line for `flag` (not a mention in a description).
fn shows_flag(text: &str, flag: &str) -> bool {
    text.lines().any(|line| {
        let line = line.trim_start();
        let line = line.split_once(", ").map_or(
            line,
            |(short, long)| {
                if short.len() == 2 { long } else { line }
            },
        );
        line.strip_prefix(flag)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
    })
}

#[test]
fn usage_errors_exit_1_never_2_which_means_changes_pending() {
    // A typo, a missing argument, a bad value, no command at all.
    for args in [
        &["plan", "--exti-code", "-f", "access/"][..],
        &["plan"],
        &["plan", "-f", "access/", "--output", "yaml"],
        &["reconcile", "-f", "access/", "--max-rounds", "0"],
    ] {
        bare()
            .args(args)
            .assert()
            .code(1)
            .stderr(predicate::str::starts_with("error: "));
    }
    bare()
        .assert()
        .code(1)
        .stderr(predicate::str::contains("Usage:"));
    bare().arg("--version").assert().code(0);
    bare().arg("help").assert().code(0);
}

#[test]
fn a_missing_manifest_does_not_suggest_that_api_flags_are_required() {
    // With the API variables set, as in CI: the usage line names only what is missing.
    bare()
        .env("CLOUDFLARE_ACCOUNT_ID", "0123456789abcdef0123456789abcdef")
        .env("CLOUDFLARE_API_BASE_URL", "http://127.0.0.1:1/client/v4")
        .arg("plan")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "Usage: mcp-access plan --file <PATH>\n",
        ))
        .stderr(predicate::str::contains("--account-id").not())
        .stderr(predicate::str::contains("--api-url").not());
}

#[test]
fn each_command_shows_only_the_flags_it_uses() {
    let api = [
        "--account-id",
        "--api-url",
        "--api-token-file",
        "--rate-limit",
    ];
    for command in [&["validate"][..], &["demo"], &["sim", "serve"]] {
        let text = help(command);
        for flag in ["--owner", "--exit-code", "--policy", "--api-url"] {
            assert!(
                !shows_flag(&text, flag),
                "{command:?} --help shows {flag}:\n{text}"
            );
        }
    }
    for command in ["plan", "reconcile", "apply", "check", "run"] {
        let text = help(&[command]);
        for flag in api.iter().chain(&["--owner", "-f, --file"]) {
            assert!(
                text.contains(flag),
                "{command} --help lacks {flag}:\n{text}"
            );
        }
        assert!(text.contains("Cloudflare API:") && text.contains("API client:"));
    }
    for command in ["plan", "reconcile", "apply", "run"] {
        assert!(
            help(&[command]).contains("Safety:\n      --policy"),
            "{command}"
        );
    }
    for command in ["apply", "check", "run"] {
        let text = help(&[command]);
        assert!(
            !shows_flag(&text, "--exit-code"),
            "{command} --help shows --exit-code"
        );
    }
    assert!(shows_flag(&help(&["plan"]), "--exit-code"));
    assert!(!shows_flag(&help(&["check"]), "--policy"));
    assert!(help(&["check"]).contains("-o, --output <FORMAT>"));
    assert!(help(&["plan"]).contains("-o, --output <FORMAT>"));

    // The client's --rate-limit and the simulator's are two different things.
    let client = help(&["plan"]);
    let sim = help(&["sim", "serve"]);
    assert!(
        client.contains("The client's sustained request rate"),
        "{client}"
    );
    assert!(client.contains("[default: 1000/300s]"), "{client}");
    assert!(sim.contains("The simulated account's limit"), "{sim}");
    assert!(sim.contains("[default: 1200/300s]"), "{sim}");
    assert!(sim.contains("--account-id <ID>") && !sim.contains("CLOUDFLARE_ACCOUNT_ID"));
}

#[test]
fn demo_help_names_every_step_including_drift_repair() {
    let text = help(&["demo"]);
    for step in ["plan", "reconcile", "repair drift"] {
        assert!(text.contains(step), "demo --help lacks {step:?}:\n{text}");
    }
}

/// A pipe whose reader is already gone, like `| head` after it has read its lines:
/// every write to it fails with "Broken pipe".
fn closed_pipe() -> std::process::Stdio {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer.into()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_stdout_ends_quietly_with_the_commands_own_exit_code() {
    let sim = sim().await;
    let file = manifest_file(DEMO);
    let path = file.path().to_str().unwrap().to_owned();
    for (args, code) in [
        (&["plan", "-o", "json", "-f", &path][..], 0),
        (&["plan", "--exit-code", "-f", &path], 2),
        (&["validate", "-f", &path], 0),
        (&["check", "-o", "json", "-f", &path], 0),
        (&["demo"], 0),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcp-access"))
            .args(args)
            .env_clear()
            .env("CLOUDFLARE_API_BASE_URL", sim.base_url())
            .env("CLOUDFLARE_ACCOUNT_ID", sim.account_id())
            .env("CLOUDFLARE_API_TOKEN", sim.token())
            .stdout(closed_pipe())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    assert!(sim.writes().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_stderr_never_panics() {
    let sim = sim().await;
    let good = manifest_file(DEMO);
    let bad = manifest_file("servers:\n  - app: x\n    downstrem: [y]\n");
    for (args, code) in [
        // An error to print, logs to write, a usage error.
        (vec!["validate", "-f", bad.path().to_str().unwrap()], 1),
        (vec!["plan", "-vv", "-f", good.path().to_str().unwrap()], 0),
        (vec!["plan", "--exti-code"], 1),
    ] {
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_mcp-access"))
            .args(&args)
            .env_clear()
            .env("CLOUDFLARE_API_BASE_URL", sim.base_url())
            .env("CLOUDFLARE_ACCOUNT_ID", sim.account_id())
            .env("CLOUDFLARE_API_TOKEN", sim.token())
            .stdout(closed_pipe())
            .stderr(closed_pipe())
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(code), "{args:?} (101 is a panic)");
    }
}

#[test]
fn the_kubernetes_folder_gets_one_clear_error_per_file_each_printed_once() {
    // What a newcomer got by copying the old README: `-f manifests/`.
    let root = env!("CARGO_MANIFEST_DIR");
    let files: Vec<String> = std::fs::read_dir(format!("{root}/manifests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    let out = bare()
        .current_dir(root)
        .args(["validate", "-f", "manifests/"])
        .assert()
        .code(1);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    for name in &files {
        let header = format!("error: manifests/{name}:");
        assert_eq!(stderr.matches(&header).count(), 1, "{name}:\n{stderr}");
    }
    assert_eq!(
        stderr.matches("not an mcp-access manifest").count(),
        files.len(),
        "{stderr}"
    );
    assert!(!stderr.contains("unknown field"), "{stderr}");
    assert!(
        stderr.ends_with(&format!(
            "error: the manifest has {} problems\n",
            files.len()
        )),
        "{stderr}"
    );
    // One style: every message starts with `error: `; no miette `×`, no bare `Error:`.
    assert!(
        !stderr.contains('×') && !stderr.contains("Error:"),
        "{stderr}"
    );
}
