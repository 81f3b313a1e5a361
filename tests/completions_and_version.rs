//! What ships beside the binary, through the binary: shell completions and man pages
//! (generated from the clap definition, so they name every subcommand), and the build's
//! version and commit in `--version` and in the JSON plan's `generator`.

mod common;

use std::process::Command as Process;
use std::time::Duration;

use assert_cmd::Command;
use clap::CommandFactory;
use common::{cli, manifest_file};
use mcp_access::cli::Cli;
use mcp_access::sim::{Seed, SimConfig, Simulator};
use serde_json::Value;

fn bin() -> Command {
    let mut cmd = Command::cargo_bin("mcp-access").unwrap();
    cmd.env_clear()
        .env("NO_COLOR", "1")
        .timeout(Duration::from_secs(60));
    cmd
}

fn stdout(args: &[&str]) -> String {
    let out = bin().args(args).assert().success();
    String::from_utf8(out.get_output().stdout.clone()).unwrap()
}

/// Every subcommand, as its path of names (`["sim", "serve"]`), from the same clap
/// definition the binary parses with: a new subcommand is checked without editing
/// this test.
fn subcommands() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let mut path = prefix.to_vec();
            path.push(sub.get_name().to_owned());
            walk(sub, &path, out);
            out.push(path);
        }
    }
    let mut out = Vec::new();
    walk(&Cli::command(), &[], &mut out);
    out
}

#[test]
fn the_subcommand_list_is_real() {
    // Guards the guard: the walk finds the commands a user knows, nested ones too.
    let names = subcommands();
    for expected in [
        &["plan"][..],
        &["apply"],
        &["completions"],
        &["man"],
        &["sim", "serve"],
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected:?} not in {names:?}"
        );
    }
}

#[test]
fn completions_generate_for_every_shell_and_name_every_subcommand() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = stdout(&["completions", shell]);
        for path in subcommands() {
            let name = path.last().unwrap();
            assert!(
                script.contains(name.as_str()),
                "{shell} completions do not mention `{}`",
                path.join(" ")
            );
        }
        // Flags of a subcommand complete too, not only the command names.
        assert!(script.contains("max-rounds"), "{shell}: no --max-rounds");
    }
}

#[cfg(unix)]
#[test]
fn bash_completion_loads_and_completes_subcommands() {
    let script = stdout(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mcp-access.bash");
    std::fs::write(&file, script).unwrap();
    // Load the script as bash-completion would, then ask it what follows `mcp-access pl`.
    let probe = format!(
        "source '{}' && complete -p mcp-access >/dev/null && \
         COMP_WORDS=(mcp-access pl) COMP_CWORD=1 COMP_LINE='mcp-access pl' COMP_POINT=13 && \
         _mcp__access mcp-access pl mcp-access && printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display()
    );
    let out = Process::new("bash")
        .args(["--norc", "-c", &probe])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(text.trim(), "plan", "{text}");
}

#[test]
fn the_man_page_names_every_subcommand() {
    let page = stdout(&["man"]);
    assert!(page.starts_with(".ie") || page.starts_with(".TH"), "{page}");
    assert!(page.contains(".TH mcp-access 1"), "{page}");
    for path in subcommands().iter().filter(|p| p.len() == 1) {
        assert!(
            page.contains(&format!(
                "mcp\\-access\\-{}(1)",
                path[0].replace('-', "\\-")
            )),
            "the man page does not list `{}`",
            path[0]
        );
    }
}

#[test]
fn man_dir_writes_one_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("man1");
    bin()
        .args(["man", "--dir", target.to_str().unwrap()])
        .assert()
        .success()
        .stdout("");
    let mut expected = vec!["mcp-access.1".to_owned()];
    expected.extend(
        subcommands()
            .iter()
            .map(|p| format!("mcp-access-{}.1", p.join("-"))),
    );
    for name in &expected {
        let page =
            std::fs::read_to_string(target.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(page.contains(".TH "), "{name}: {page}");
        assert!(page.contains(".SH SYNOPSIS"), "{name}: {page}");
    }
    let written = std::fs::read_dir(&target).unwrap().count();
    assert_eq!(written, expected.len(), "{expected:?}");
}

/// The commit the tests are built from, when this is a git work tree and nobody set
/// `MCP_ACCESS_COMMIT` for the build.
fn git_head() -> Option<String> {
    if std::env::var_os("MCP_ACCESS_COMMIT").is_some() {
        return None;
    }
    let out = Process::new("git")
        .args(["-C", env!("CARGO_MANIFEST_DIR"), "rev-parse", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim()[..12].to_owned())
}

/// `(version, commit)` from `mcp-access --version`.
fn version_and_commit() -> (String, String) {
    let line = stdout(&["--version"]);
    let rest = line
        .trim_end()
        .strip_prefix("mcp-access ")
        .unwrap_or_else(|| panic!("{line}"));
    let (version, commit) = rest
        .split_once(" (commit ")
        .unwrap_or_else(|| panic!("{line}"));
    let commit = commit.strip_suffix(')').unwrap_or_else(|| panic!("{line}"));
    (version.to_owned(), commit.to_owned())
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let (version, commit) = version_and_commit();
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{commit}"
    );
    if let Some(head) = git_head() {
        assert_eq!(commit, head);
    }
    // Subcommands say the same.
    let sub = stdout(&["plan", "--version"]);
    assert!(sub.contains(&format!("(commit {commit})")), "{sub}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_json_plan_names_the_build_that_wrote_it() {
    tokio::time::timeout(Duration::from_secs(120), async {
        let sim = Simulator::start(SimConfig::default(), Seed::demo())
            .await
            .unwrap();
        let file = manifest_file(
            "owner: platform\nservers:\n  - app: mcp-server-app\n    downstream: [Internal API]\n",
        );
        let dir = tempfile::tempdir().unwrap();
        let saved = dir.path().join("plan.json");
        let out = cli(&sim)
            .args(["plan", "-o", "json", "--out"])
            .arg(&saved)
            .arg("-f")
            .arg(file.path())
            .assert()
            .success();
        let (version, commit) = version_and_commit();
        let printed: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        let saved_doc: Value =
            serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
        let schema: Value = serde_json::from_str(
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/schema/plan.schema.json"
            ))
            .unwrap(),
        )
        .unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let mut wrong = printed.clone();
        wrong["generator"]["commit"] = 7.into();
        assert!(
            !validator.is_valid(&wrong),
            "the schema checks the generator"
        );
        for doc in [printed, saved_doc] {
            assert!(validator.is_valid(&doc), "{doc:#}");
            assert_eq!(doc["generator"]["name"], "mcp-access");
            assert_eq!(doc["generator"]["version"], version.as_str());
            assert_eq!(doc["generator"]["commit"], commit.as_str());
        }
        // A plan saved by a build that predates `generator` still applies.
        let mut old: Value =
            serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
        old.as_object_mut().unwrap().remove("generator");
        std::fs::write(&saved, serde_json::to_string(&old).unwrap()).unwrap();
        cli(&sim).arg("apply").arg(&saved).assert().success();
        assert!(!sim.writes().is_empty());
    })
    .await
    .expect("test timed out");
}
