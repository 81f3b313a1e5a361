//! The migration guide, `docs/adopting.md`, is run as written: every `$ mcp-access ...`
//! line of its `console` blocks, in order, through the binary, against one simulator
//! serving the demo account, in a scratch directory; each command's output (stdout,
//! then stderr) must be the lines the guide shows under it.
//!
//! Until the docs-wide trycmd harness lands this is the guide's test. It follows
//! trycmd's conventions so the page can move to that harness as is: `? <code>` after a
//! command's output for a non-zero exit, `...` for any lines, `[..]` for any text
//! within a line. Logs are turned off (`MCP_ACCESS_LOG=warn`); colour too (`NO_COLOR`).

mod common;

use std::time::Duration;

use mcp_access::sim::{Seed, SimConfig, Simulator};

const GUIDE: &str = include_str!("../docs/adopting.md");

/// One documented command and what the guide says it prints.
#[derive(Debug)]
struct Step {
    line: usize,
    args: Vec<String>,
    expected: Vec<String>,
    code: i32,
}

/// The `$ mcp-access` commands of every `console` block, in order.
fn steps(doc: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut in_console = false;
    for (n, line) in doc.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            in_console = !in_console && trimmed == "```console";
            continue;
        }
        if !in_console {
            continue;
        }
        if let Some(command) = line.strip_prefix("$ ") {
            let words: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
            assert_eq!(
                words[0],
                "mcp-access",
                "line {}: only mcp-access runs",
                n + 1
            );
            assert!(
                !command.contains(['"', '\'', '|', '>']),
                "line {}: keep it simple",
                n + 1
            );
            steps.push(Step {
                line: n + 1,
                args: words[1..].to_vec(),
                expected: Vec::new(),
                code: 0,
            });
        } else if let Some(step) = steps.last_mut() {
            match line.strip_prefix("? ") {
                Some(code) => step.code = code.trim().parse().expect("`? <exit code>`"),
                None => step.expected.push(line.to_owned()),
            }
        }
    }
    steps
}

/// trycmd-style matching: `...` on its own line matches any lines, `[..]` any text.
fn matches(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first == "..." => {
            (0..=actual.len()).any(|skip| matches(rest, &actual[skip..]))
        }
        Some((first, rest)) => {
            actual.first().is_some_and(|a| line_matches(first, a)) && matches(rest, &actual[1..])
        }
    }
}

fn line_matches(pattern: &str, line: &str) -> bool {
    let mut parts = pattern.split("[..]");
    let Some(head) = parts.next() else {
        return line.is_empty();
    };
    let Some(mut rest) = line.strip_prefix(head) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_adopting_guide_runs_as_written() {
    tokio::time::timeout(Duration::from_secs(180), async {
        let sim = Simulator::start(SimConfig::default(), Seed::demo()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let steps = steps(GUIDE);
        assert!(steps.len() >= 6, "the guide shows its commands: {steps:#?}");
        for step in &steps {
            let out = common::cli(&sim)
                .env("MCP_ACCESS_LOG", "warn")
                .current_dir(dir.path())
                .args(&step.args)
                .output()
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let actual: Vec<&str> = text.lines().collect();
            let mut expected = step.expected.clone();
            while expected.last().is_some_and(String::is_empty) {
                expected.pop();
            }
            assert!(
                matches(&expected, &actual),
                "docs/adopting.md line {}: `mcp-access {}` printed\n{text}\nbut the guide shows\n{}",
                step.line,
                step.args.join(" "),
                expected.join("\n")
            );
            assert_eq!(
                out.status.code(),
                Some(step.code),
                "docs/adopting.md line {}: exit code",
                step.line
            );
        }
        sim.shutdown().await;
    })
    .await
    .unwrap();
}

#[test]
fn the_matcher_takes_wildcards_and_nothing_else() {
    let lines = |s: &[&str]| s.iter().map(|l| (*l).to_owned()).collect::<Vec<_>>();
    assert!(matches(&lines(&["a", "...", "d"]), &["a", "b", "c", "d"]));
    assert!(matches(&lines(&["id [..] done"]), &["id 42 done"]));
    assert!(!matches(&lines(&["a"]), &["a", "b"]));
    assert!(!matches(&lines(&["id [..] done"]), &["id 42 undone!"]));
    assert!(!line_matches("x", "y"));
}
