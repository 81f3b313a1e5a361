//! Every command shown in the documentation runs here: each ```` ```console ```` block
//! of README.md and docs/*.md is a trycmd test against the simulator, so the docs
//! cannot drift from the binary. (How to write one: docs/contributing.md.)
//!
//! Each page runs on its own, top to bottom, in a fresh workspace:
//! - a directory holding `access/` (the README's first manifest,
//!   `examples/access/platform.yaml`) and a copy of `examples/`, as the current
//!   directory;
//! - a simulator on a free port, seeded with the demo account (or a page's own seed,
//!   see [`seed_for`]), which `CLOUDFLARE_API_BASE_URL`, `CLOUDFLARE_ACCOUNT_ID` and
//!   `CLOUDFLARE_API_TOKEN` point at; in the output, its URL reads `[URL]`;
//! - no colour, logs at `warn` (`MCP_ACCESS_LOG`), no GitHub variables.
//!
//! `TRYCMD=overwrite cargo test --test docs` writes the actual output back into the
//! pages.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mcp_access::sim::{Seed, SimConfig, Simulator};
use serde_json::json;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The documentation pages: README.md, then docs/*.md (SUMMARY.md is only a table of
/// contents).
fn pages() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .filter(|p| p.file_name().is_some_and(|n| n != "SUMMARY.md"))
        .collect();
    pages.sort();
    pages.insert(0, Path::new(ROOT).join("README.md"));
    pages
}

/// What the simulator holds when a page starts: the demo account, plus what a page's
/// examples need beyond it.
fn seed_for(page: &str) -> Seed {
    let mut seed = Seed::demo();
    if page == "check.md" {
        // A hand-made policy on the wiki that lets `ci-bot` in for @example.com users
        // only: the "depends on the request" case of the page's example.
        let id = "f1a2b3c4-0006-4000-8000-00000000a006";
        seed.policies.push(json!({
            "id": id,
            "name": "Employees via CI",
            "decision": "non_identity",
            "include": [{"linked_app_token": {"app_uid": "0d5c8f7e-0008-4000-8000-0000000000a8"}}],
            "exclude": [],
            "require": [{"email_domain": {"domain": "example.com"}}],
            "reusable": true,
        }));
        let wiki = seed
            .apps
            .iter_mut()
            .find(|a| a["name"] == "Company wiki")
            .unwrap();
        let links = wiki["policies"].as_array_mut().unwrap();
        let precedence = links.len() + 1;
        links.push(json!({"id": id, "precedence": precedence}));
    }
    if page == "real-api.md" {
        // A legacy (app-scoped) policy on the wiki: the blocked attach and
        // `--convert-legacy` examples of the page.
        let wiki = seed
            .apps
            .iter_mut()
            .find(|a| a["name"] == "Company wiki")
            .unwrap();
        wiki["policies"].as_array_mut().unwrap().push(json!({
            "id": "f1a2b3c4-0006-4000-8000-00000000a006",
            "name": "Wiki readers (legacy)",
            "decision": "allow",
            "include": [{"email_domain": {"domain": "example.com"}}],
            "precedence": 2,
        }));
    }
    seed
}

/// trycmd drops the last newline of an expected output, taking it for the line break
/// before the closing fence: a block written as a terminal shows it (no empty line before
/// the fence) would miss its final newline. This adds that empty line where it is
/// missing, in `console` blocks only.
fn with_blank_line_before_closing_fences(text: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut fence: Option<String> = None;
    for line in text.lines() {
        let ticks = line.len() - line.trim_start_matches('`').len();
        match &fence {
            None if ticks >= 3 => {
                let info = line[ticks..].trim();
                let lang = info.split(',').next().unwrap_or_default();
                if (lang == "console" || lang == "trycmd") && !info.contains("ignore") {
                    fence = Some(line[..ticks].to_owned());
                }
            }
            Some(open) if line.starts_with(open.as_str()) && line.trim() == open => {
                if out.last().is_some_and(|l| !l.is_empty()) {
                    out.push("");
                }
                fence = None;
            }
            _ => {}
        }
        out.push(line);
    }
    let mut joined = out.join("\n");
    joined.push('\n');
    joined
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// Runs the console blocks of one page; panics (after trycmd's report) on a mismatch.
fn run_page(page: &Path) {
    let name = page.file_name().unwrap().to_str().unwrap().to_owned();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = runtime
        .block_on(Simulator::start(SimConfig::default(), seed_for(&name)))
        .unwrap();

    // trycmd runs `<page>.md` in `<page>.in/` when that directory exists.
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join(&name);
    let text = std::fs::read_to_string(page).unwrap();
    std::fs::write(&case, with_blank_line_before_closing_fences(&text)).unwrap();
    let workspace = case.with_extension("in");
    copy_dir(
        &Path::new(ROOT).join("examples/access"),
        &workspace.join("access"),
    );
    copy_dir(
        &Path::new(ROOT).join("examples"),
        &workspace.join("examples"),
    );

    let cases = trycmd::TestCases::new();
    cases
        .register_bin("mcp-access", Path::new(env!("CARGO_BIN_EXE_mcp-access")))
        .env("CLOUDFLARE_API_BASE_URL", sim.base_url())
        .env("CLOUDFLARE_ACCOUNT_ID", sim.account_id())
        .env("CLOUDFLARE_API_TOKEN", sim.token())
        .env("NO_COLOR", "1")
        .env("CLICOLOR_FORCE", "0")
        .env("MCP_ACCESS_LOG", "warn")
        .env("GITHUB_STEP_SUMMARY", "")
        .env("GITHUB_OUTPUT", "")
        .timeout(Duration::from_secs(60))
        .insert_var("[URL]", sim.base_url())
        .unwrap();
    cases.case(&case);
    cases.run();
    if std::env::var("TRYCMD").is_ok_and(|v| v == "overwrite") {
        std::fs::copy(&case, page).unwrap();
    }
    drop(cases);
    runtime.block_on(sim.shutdown());
}

#[test]
fn every_console_example_in_the_docs_runs_as_shown() {
    // Every page runs, so one report lists every page that fails.
    let failed: Vec<String> = pages()
        .into_iter()
        .filter(|page| std::panic::catch_unwind(|| run_page(page)).is_err())
        .map(|page| page.display().to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "examples that do not run as shown: {failed:?}"
    );
}

/// The README's first manifest is the file the examples run against.
#[test]
fn the_readme_shows_the_first_manifest_the_examples_use() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let file =
        std::fs::read_to_string(Path::new(ROOT).join("examples/access/platform.yaml")).unwrap();
    assert!(
        readme.contains(&format!("```yaml\n{file}```")),
        "README.md should show examples/access/platform.yaml verbatim in a yaml block"
    );
}

/// `sim serve` runs until stopped, so its block in docs/simulator.md is not a trycmd
/// case; this starts it as shown (on a free port) and compares what it prints.
#[test]
fn the_sim_serve_example_prints_what_the_docs_show() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    let page = std::fs::read_to_string(Path::new(ROOT).join("docs/simulator.md")).unwrap();
    let start = page
        .find("```console,ignore\n$ mcp-access sim serve --seed examples/sim/seed.json\n")
        .expect("docs/simulator.md shows sim serve with the example seed");
    let block = &page[start..];
    let shown: Vec<&str> = block
        .lines()
        .skip(2)
        .take_while(|l| !l.starts_with("```"))
        .collect();

    let mut child = Command::new(env!("CARGO_BIN_EXE_mcp-access"))
        .args(["sim", "serve", "--seed", "examples/sim/seed.json"])
        .args(["--listen", "127.0.0.1:0"])
        .current_dir(ROOT)
        .env_clear()
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _server = Killed(child);
    let printed: Vec<String> = BufReader::new(stdout)
        .lines()
        .take(shown.len())
        .map(Result::unwrap)
        .collect();
    let port = printed[0]
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("the first line names the URL");
    let expected: Vec<String> = shown
        .iter()
        .map(|l| l.replace("127.0.0.1:8787", &format!("127.0.0.1:{port}")))
        .collect();
    assert_eq!(printed, expected);
}

#[test]
fn the_license_is_the_one_cargo_toml_declares() {
    assert_eq!(env!("CARGO_PKG_LICENSE"), "Apache-2.0");
    let license = std::fs::read_to_string(Path::new(ROOT).join("LICENSE")).unwrap();
    let head: Vec<&str> = license
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(2)
        .collect();
    assert_eq!(head, ["Apache License", "Version 2.0, January 2004"]);
    assert!(license.contains("END OF TERMS AND CONDITIONS"));
}

/// CHANGELOG.md keeps the "Keep a Changelog" form: an Unreleased section on top, then
/// one `## [x.y.z] - YYYY-MM-DD` section per release, newest first, the crate's own
/// version among them.
#[test]
fn the_changelog_has_an_unreleased_section_and_one_per_release() {
    let text = std::fs::read_to_string(Path::new(ROOT).join("CHANGELOG.md")).unwrap();
    assert!(text.starts_with("# Changelog\n"));
    assert!(text.contains("[Keep a Changelog](https://keepachangelog.com/"));
    let sections: Vec<&str> = text.lines().filter(|l| l.starts_with("## ")).collect();
    assert_eq!(sections.first(), Some(&"## [Unreleased]"), "{sections:?}");
    let mut versions = Vec::new();
    for section in &sections[1..] {
        let (version, date) = section
            .strip_prefix("## [")
            .and_then(|s| s.split_once("] - "))
            .unwrap_or_else(|| panic!("not `## [x.y.z] - YYYY-MM-DD`: {section}"));
        let parts: Vec<u64> = version.split('.').map(|p| p.parse().unwrap()).collect();
        assert_eq!(parts.len(), 3, "{section}");
        let date: Vec<&str> = date.split('-').collect();
        assert!(
            date.len() == 3 && date.iter().all(|d| d.chars().all(|c| c.is_ascii_digit())),
            "{section}"
        );
        versions.push(parts);
    }
    assert!(
        versions.windows(2).all(|w| w[0] > w[1]),
        "newest first: {sections:?}"
    );
    let ours = format!("## [{}] - ", env!("CARGO_PKG_VERSION"));
    assert!(
        sections.iter().any(|s| s.starts_with(&ours)),
        "no section for version {}: {sections:?}",
        env!("CARGO_PKG_VERSION")
    );
}
