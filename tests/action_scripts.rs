//! The GitHub Action's scripts (`action/install.sh`, `action/run.sh`), run the way the
//! runner runs them: bash with GitHub's environment variables, `GITHUB_OUTPUT` and
//! `GITHUB_STEP_SUMMARY` files, a local directory standing in for the releases
//! (archives and `SHA256SUMS`, one of them tampered with), and a fake `mcp-access`
//! exiting 0, 1, 2 or anything else; then the real binary against the simulator.
//! (Unix only: the harness makes files executable the Unix way.)
#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use mcp_access::sim::{Seed, SimConfig, Simulator};
use sha2::{Digest, Sha256};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const LINUX_X64: &str = "x86_64-unknown-linux-musl";

/// One runner: its temp dirs, the action's source, the releases folder, the outputs.
struct Runner {
    dir: tempfile::TempDir,
    env: BTreeMap<String, String>,
}

impl Runner {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let p = |s: &str| dir.path().join(s);
        for d in ["temp", "tool_cache", "releases", "action/src", "bin"] {
            std::fs::create_dir_all(p(d)).unwrap();
        }
        // The action's source as the runner unpacks it: what install.sh reads.
        std::fs::write(
            p("action/Cargo.toml"),
            "[package]\nname = \"mcp-access\"\nversion = \"9.9.9\"\n",
        )
        .unwrap();
        std::fs::write(p("action/src/main.rs"), "fn main() {}\n").unwrap();
        std::fs::write(p("output"), "").unwrap();
        std::fs::write(p("summary"), "").unwrap();
        let s = |p: PathBuf| p.to_str().unwrap().to_owned();
        let mut env = BTreeMap::new();
        for (k, v) in [
            (
                "PATH",
                format!("{}:{}", s(p("bin")), std::env::var("PATH").unwrap()),
            ),
            ("HOME", s(dir.path().to_path_buf())),
            ("GITHUB_ACTIONS", "true".into()),
            ("GITHUB_SERVER_URL", "https://github.com".into()),
            ("GITHUB_ACTION_PATH", s(p("action"))),
            ("GITHUB_OUTPUT", s(p("output"))),
            ("GITHUB_STEP_SUMMARY", s(p("summary"))),
            ("RUNNER_OS", "Linux".into()),
            ("RUNNER_ARCH", "X64".into()),
            ("RUNNER_TEMP", s(p("temp"))),
            ("RUNNER_TOOL_CACHE", s(p("tool_cache"))),
            ("ACTION_REPOSITORY", "acme/mcp-access".into()),
            ("ACTION_REF", "v9.9.9".into()),
            ("INPUT_INSTALL", "auto".into()),
            ("INPUT_VERSION", String::new()),
            (
                "MCP_ACCESS_RELEASES_URL",
                format!("file://{}", s(p("releases"))),
            ),
        ] {
            env.insert(k.to_owned(), v);
        }
        Self { dir, env }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn set(&mut self, key: &str, value: &str) -> &mut Self {
        self.env.insert(key.to_owned(), value.to_owned());
        self
    }

    fn script(&self, name: &str, args: &[&str]) -> Output {
        let mut cmd = Command::new("bash");
        cmd.arg(format!("{ROOT}/action/{name}"))
            .args(args)
            .env_clear()
            .envs(&self.env)
            .current_dir(self.dir.path());
        cmd.output().unwrap()
    }

    /// `GITHUB_OUTPUT` as `key=value` pairs (the last value of a key wins, as on
    /// GitHub); multi-line values are skipped.
    fn outputs(&self) -> BTreeMap<String, String> {
        let text = std::fs::read_to_string(self.path("output")).unwrap();
        let mut out = BTreeMap::new();
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if let Some((k, delimiter)) = line.split_once("<<") {
                for l in lines.by_ref() {
                    if l == delimiter {
                        break;
                    }
                }
                out.insert(k.to_owned(), "<multi-line>".to_owned());
            } else if let Some((k, v)) = line.split_once('=') {
                out.insert(k.to_owned(), v.to_owned());
            }
        }
        out
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn sha256_hex(path: &Path) -> String {
    let digest = Sha256::digest(std::fs::read(path).unwrap());
    digest.iter().fold(String::new(), |mut hex, b| {
        use std::fmt::Write;
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

/// A stand-in `mcp-access` that says it was built from `commit`.
fn fake_release_binary(commit: &str) -> String {
    format!("#!/usr/bin/env bash\necho \"mcp-access 9.9.9 (commit {commit})\"\n")
}

/// Publishes release `tag` for `target` into the runner's releases folder, laid out as
/// the release workflow lays it out, and returns the archive's path.
fn publish(runner: &Runner, tag: &str, target: &str, binary: &str) -> PathBuf {
    let version = tag.trim_start_matches('v');
    let name = format!("mcp-access-{version}-{target}");
    let release = runner.path(&format!("releases/{tag}"));
    let stage = runner.path(&format!("stage/{name}"));
    std::fs::create_dir_all(&release).unwrap();
    std::fs::create_dir_all(&stage).unwrap();
    let windows = target.contains("windows");
    let exe = if windows {
        "mcp-access.exe"
    } else {
        "mcp-access"
    };
    std::fs::write(stage.join(exe), binary).unwrap();
    std::fs::write(stage.join("README.md"), "read me\n").unwrap();
    let archive = if windows {
        let archive = release.join(format!("{name}.zip"));
        let ok = Command::new("python3")
            .args(["-m", "zipfile", "-c"])
            .arg(&archive)
            .arg(&name)
            .current_dir(runner.path("stage"))
            .status()
            .unwrap();
        assert!(ok.success());
        archive
    } else {
        let archive = release.join(format!("{name}.tar.gz"));
        let ok = Command::new("tar")
            .arg("-czf")
            .arg(&archive)
            .arg(&name)
            .current_dir(runner.path("stage"))
            .status()
            .unwrap();
        assert!(ok.success());
        archive
    };
    let line = format!(
        "{}  {}\n",
        sha256_hex(&archive),
        archive.file_name().unwrap().to_str().unwrap()
    );
    let sums = release.join("SHA256SUMS");
    let mut all = std::fs::read_to_string(&sums).unwrap_or_default();
    all.push_str(&line);
    std::fs::write(sums, all).unwrap();
    archive
}

fn assert_failed_with(out: &Output, needle: &str) {
    let err = text(&out.stderr);
    assert!(!out.status.success(), "should fail: {err}");
    assert!(err.contains("::error"), "a GitHub error annotation: {err}");
    assert!(err.contains(needle), "{needle:?} not in: {err}");
}

// ---- install.sh -------------------------------------------------------------------

#[test]
fn a_release_tag_installs_the_verified_release_binary() {
    let runner = Runner::new();
    publish(
        &runner,
        "v9.9.9",
        LINUX_X64,
        &fake_release_binary("0123456789ab"),
    );
    // Another platform in the same release: only this runner's is fetched.
    publish(&runner, "v9.9.9", "aarch64-apple-darwin", "not this one");
    let out = runner.script("install.sh", &["release"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let outputs = runner.outputs();
    assert_eq!(outputs["method"], "release");
    let bin = &outputs["bin"];
    assert!(
        bin.ends_with(&format!("mcp-access-9.9.9-{LINUX_X64}/mcp-access")),
        "{bin}"
    );
    let version = Command::new(bin).arg("--version").output().unwrap();
    assert_eq!(
        text(&version.stdout).trim(),
        "mcp-access 9.9.9 (commit 0123456789ab)"
    );
    assert!(text(&out.stderr).contains("verified against SHA256SUMS"));
    // Nothing was built: no source key, no cargo.
    assert!(!outputs.contains_key("source-key"));
}

#[test]
fn a_tampered_archive_fails_and_installs_nothing() {
    let runner = Runner::new();
    let archive = publish(
        &runner,
        "v9.9.9",
        LINUX_X64,
        &fake_release_binary("0123456789ab"),
    );
    // Replaced after SHA256SUMS was written.
    let mut bytes = std::fs::read(&archive).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&archive, bytes).unwrap();
    let out = runner.script("install.sh", &["release"]);
    assert_failed_with(&out, "checksum mismatch");
    let outputs = runner.outputs();
    assert!(!outputs.contains_key("bin"), "{outputs:?}");
    assert!(
        !outputs.contains_key("method"),
        "no fallback to source: {outputs:?}"
    );
}

#[test]
fn an_archive_missing_from_sha256sums_fails() {
    let runner = Runner::new();
    publish(
        &runner,
        "v9.9.9",
        LINUX_X64,
        &fake_release_binary("0123456789ab"),
    );
    let sums = runner.path("releases/v9.9.9/SHA256SUMS");
    // A line for a name that only ends like ours does not count.
    let text_sums = std::fs::read_to_string(&sums).unwrap();
    std::fs::write(
        &sums,
        text_sums.replace("  mcp-access-", "  evil-mcp-access-"),
    )
    .unwrap();
    let out = runner.script("install.sh", &["release"]);
    assert_failed_with(
        &out,
        "has no line for mcp-access-9.9.9-x86_64-unknown-linux-musl.tar.gz",
    );
    assert!(!runner.outputs().contains_key("bin"));
}

#[test]
fn a_release_tag_without_its_release_fails_instead_of_building() {
    let runner = Runner::new();
    let out = runner.script("install.sh", &["release"]);
    assert_failed_with(&out, "cannot download");
    assert!(!runner.outputs().contains_key("method"));
}

#[test]
fn a_branch_ref_builds_from_source_keyed_on_the_source() {
    let mut runner = Runner::new();
    runner.set("ACTION_REF", "main");
    let out = runner.script("install.sh", &["release"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let outputs = runner.outputs();
    assert_eq!(outputs["method"], "source");
    let key = outputs["source-key"].clone();
    assert_eq!(key.len(), 64, "{key}");
    assert!(!outputs.contains_key("bin"));
    // The key follows the code, so a moving branch never reuses an old build.
    std::fs::write(runner.path("action/src/main.rs"), "fn main() { 1; }\n").unwrap();
    std::fs::write(runner.path("output"), "").unwrap();
    runner.script("install.sh", &["release"]);
    assert_ne!(runner.outputs()["source-key"], key);
    // A local `uses: ./` has no ref at all.
    runner.set("ACTION_REF", "");
    std::fs::write(runner.path("output"), "").unwrap();
    assert!(runner.script("install.sh", &["release"]).status.success());
    assert_eq!(runner.outputs()["method"], "source");
}

#[test]
fn install_release_refuses_to_build_and_install_source_skips_the_download() {
    let mut runner = Runner::new();
    runner
        .set("ACTION_REF", "main")
        .set("INPUT_INSTALL", "release");
    assert_failed_with(
        &runner.script("install.sh", &["release"]),
        "names no release",
    );

    // `install: source` with a release tag: no download even though one exists.
    runner
        .set("ACTION_REF", "v9.9.9")
        .set("INPUT_INSTALL", "source");
    publish(
        &runner,
        "v9.9.9",
        LINUX_X64,
        &fake_release_binary("0123456789ab"),
    );
    std::fs::write(runner.path("output"), "").unwrap();
    let out = runner.script("install.sh", &["release"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(runner.outputs()["method"], "source");

    runner.set("INPUT_INSTALL", "sometimes");
    assert_failed_with(
        &runner.script("install.sh", &["release"]),
        "auto, release or source",
    );
}

#[test]
fn a_commit_sha_uses_the_release_only_when_built_from_that_commit() {
    let mut runner = Runner::new();
    let sha = "0123456789abcdef0123456789abcdef01234567";
    runner.set("ACTION_REF", sha);
    publish(
        &runner,
        "v9.9.9",
        LINUX_X64,
        &fake_release_binary("0123456789ab"),
    );
    let out = runner.script("install.sh", &["release"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(runner.outputs()["method"], "release");

    // A commit after the release, with the same version in Cargo.toml: not that binary.
    runner.set("ACTION_REF", "fedcba9876543210fedcba9876543210fedcba98");
    std::fs::write(runner.path("output"), "").unwrap();
    let out = runner.script("install.sh", &["release"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let outputs = runner.outputs();
    assert_eq!(outputs["method"], "source", "{outputs:?}");
    assert!(!outputs.contains_key("bin"));

    // A commit whose version has no release yet builds from source too...
    std::fs::remove_dir_all(runner.path("releases/v9.9.9")).unwrap();
    std::fs::write(runner.path("output"), "").unwrap();
    let out = runner.script("install.sh", &["release"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(runner.outputs()["method"], "source");
    // ...unless the release binary was required.
    runner.set("INPUT_INSTALL", "release");
    assert_failed_with(
        &runner.script("install.sh", &["release"]),
        "cannot download",
    );
}

#[test]
fn a_major_tag_and_an_explicit_version_pick_their_release() {
    let mut runner = Runner::new();
    runner.set("ACTION_REF", "v9");
    publish(
        &runner,
        "v9.9.9",
        LINUX_X64,
        &fake_release_binary("0123456789ab"),
    );
    let out = runner.script("install.sh", &["release"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(runner.outputs()["bin"].contains("mcp-access-9.9.9-"));

    runner
        .set("ACTION_REF", "main")
        .set("INPUT_VERSION", "v1.2.3");
    publish(
        &runner,
        "v1.2.3",
        LINUX_X64,
        &fake_release_binary("aaaaaaaaaaaa"),
    );
    std::fs::write(runner.path("output"), "").unwrap();
    let out = runner.script("install.sh", &["release"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(runner.outputs()["bin"].contains("mcp-access-1.2.3-"));
}

#[test]
fn each_runner_platform_gets_its_own_archive() {
    for (os, arch, target) in [
        ("macOS", "ARM64", "aarch64-apple-darwin"),
        ("macOS", "X64", "x86_64-apple-darwin"),
        ("Linux", "ARM64", "aarch64-unknown-linux-musl"),
        ("Windows", "X64", "x86_64-pc-windows-msvc"),
    ] {
        let mut runner = Runner::new();
        runner.set("RUNNER_OS", os).set("RUNNER_ARCH", arch);
        publish(
            &runner,
            "v9.9.9",
            target,
            &fake_release_binary("0123456789ab"),
        );
        let out = runner.script("install.sh", &["release"]);
        assert!(out.status.success(), "{os}/{arch}: {}", text(&out.stderr));
        let bin = runner.outputs()["bin"].clone();
        let exe = if os == "Windows" {
            "mcp-access.exe"
        } else {
            "mcp-access"
        };
        assert!(
            bin.ends_with(&format!("mcp-access-9.9.9-{target}/{exe}")),
            "{bin}"
        );
    }
    let mut runner = Runner::new();
    runner
        .set("RUNNER_OS", "Windows")
        .set("RUNNER_ARCH", "ARM64");
    assert_failed_with(
        &runner.script("install.sh", &["release"]),
        "install: source",
    );
}

#[test]
fn the_source_phase_reuses_a_cached_build_or_runs_cargo_install() {
    let mut runner = Runner::new();
    let root = runner.path("tool_cache/mcp-access-source");
    runner.set("MCP_ACCESS_SOURCE_ROOT", root.to_str().unwrap());
    // A fake cargo that records its arguments and "installs" the binary.
    let log = runner.path("cargo.log");
    std::fs::write(
        runner.path("bin/cargo"),
        format!(
            "#!/usr/bin/env bash\nprintf '%s\\n' \"$@\" >> '{}'\nmkdir -p \"$6/bin\"\nprintf '#!/bin/sh\\necho mcp-access 9.9.9 \\(commit unknown\\)\\n' > \"$6/bin/mcp-access\"\nchmod +x \"$6/bin/mcp-access\"\n",
            log.display()
        ),
    )
    .unwrap();
    make_executable(&runner.path("bin/cargo"));
    let out = runner.script("install.sh", &["source"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let args = std::fs::read_to_string(&log).unwrap();
    let action = runner.path("action");
    assert_eq!(
        args.lines().collect::<Vec<_>>(),
        [
            "install",
            "--locked",
            "--path",
            action.to_str().unwrap(),
            "--root",
            root.to_str().unwrap()
        ]
    );
    assert_eq!(
        runner.outputs()["bin"],
        root.join("bin/mcp-access").to_str().unwrap()
    );
    // Restored from the cache: cargo is not run again.
    std::fs::remove_file(&log).unwrap();
    let out = runner.script("install.sh", &["source"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!log.exists());
    assert!(text(&out.stderr).contains("cached source build"));
}

// ---- run.sh -----------------------------------------------------------------------

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A fake mcp-access: records its arguments (NUL-separated), prints a line, writes the
/// plan's outputs when `FAKE_WRITES_PLAN` is set, and exits with `FAKE_EXIT`.
fn fake_binary(runner: &mut Runner) -> PathBuf {
    let path = runner.path("bin/fake-mcp-access");
    let argv = runner.path("argv");
    std::fs::write(
        &path,
        format!(
            r#"#!/usr/bin/env bash
printf '%s\0' "$@" > '{}'
echo "the plan on stdout"
if [ -n "${{FAKE_WRITES_PLAN:-}}" ]; then
  printf 'has-changes=true\nexit-code=2\nplan-json<<EOF_X\n{{}}\nEOF_X\n' >> "$GITHUB_OUTPUT"
fi
exit "${{FAKE_EXIT:-0}}"
"#,
            argv.display()
        ),
    )
    .unwrap();
    make_executable(&path);
    runner
        .set("MCP_ACCESS_BIN", path.to_str().unwrap())
        .set("INPUT_COMMAND", "plan")
        .set("INPUT_MANIFESTS", "access/")
        .set("INPUT_PLAN_FILE", "")
        .set("INPUT_ARGS", "");
    path
}

fn argv(runner: &Runner) -> Vec<String> {
    let raw = std::fs::read(runner.path("argv")).unwrap();
    raw.split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(text)
        .collect()
}

#[test]
fn run_passes_every_line_of_args_and_keeps_quoted_spaces() {
    let mut runner = Runner::new();
    fake_binary(&mut runner);
    runner
        .set("INPUT_MANIFESTS", "access/\n  team folder/extra.yaml  \n\n")
        .set(
            "INPUT_ARGS",
            "--exit-code\n--output markdown\n--out \"my plan.json\" --owner 'a b'\n--note $HOME$(touch pwned)`id`\n",
        );
    let out = runner.script("run.sh", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        argv(&runner),
        [
            "plan",
            "-f",
            "access/",
            "-f",
            "team folder/extra.yaml",
            "--exit-code",
            "--output",
            "markdown",
            "--out",
            "my plan.json",
            "--owner",
            "a b",
            "--note",
            "$HOME$(touch",
            "pwned)`id`",
        ]
    );
    assert!(!runner.path("pwned").exists(), "args are data, not code");
    // Manifests on one line are split on spaces.
    runner
        .set("INPUT_MANIFESTS", "a.yaml b.yaml")
        .set("INPUT_ARGS", "");
    assert!(runner.script("run.sh", &[]).status.success());
    assert_eq!(argv(&runner), ["plan", "-f", "a.yaml", "-f", "b.yaml"]);
}

#[test]
fn run_apply_with_a_plan_file() {
    let mut runner = Runner::new();
    fake_binary(&mut runner);
    runner
        .set("INPUT_COMMAND", "apply")
        .set("INPUT_PLAN_FILE", "plan.json");
    assert!(runner.script("run.sh", &[]).status.success());
    assert_eq!(argv(&runner), ["apply", "plan.json", "-f", "access/"]);
    runner.set("INPUT_COMMAND", "destroy");
    assert_failed_with(&runner.script("run.sh", &[]), "plan or apply");
}

#[test]
fn run_decides_the_step_by_the_exit_code_and_the_written_plan() {
    // (exit code, wrote the plan, step exit code)
    for (code, wrote, step) in [
        (0, false, 0),
        (1, false, 1),
        (2, true, 0),
        // A usage error that exits 2 (as clap does) must not look like "changes".
        (2, false, 2),
        (3, false, 3),
        (101, false, 101),
    ] {
        let mut runner = Runner::new();
        fake_binary(&mut runner);
        runner.set("FAKE_EXIT", &code.to_string());
        if wrote {
            runner.set("FAKE_WRITES_PLAN", "1");
        }
        let out = runner.script("run.sh", &[]);
        assert_eq!(
            out.status.code(),
            Some(step),
            "exit {code}, plan written {wrote}: {}",
            text(&out.stderr)
        );
        let outputs = runner.outputs();
        assert_eq!(outputs["exit-code"], code.to_string());
        let output_file = &outputs["output-file"];
        assert_eq!(
            std::fs::read_to_string(output_file).unwrap(),
            "the plan on stdout\n"
        );
        if step != 0 {
            assert!(
                text(&out.stderr).contains("::error"),
                "{}",
                text(&out.stderr)
            );
        }
    }
}

#[test]
fn run_rejects_an_unmatched_quote_and_empty_manifests() {
    let mut runner = Runner::new();
    fake_binary(&mut runner);
    runner.set("INPUT_ARGS", "--out \"plan.json");
    assert_failed_with(&runner.script("run.sh", &[]), "quote");
    assert!(!runner.path("argv").exists(), "nothing ran");
    runner.set("INPUT_ARGS", "").set("INPUT_MANIFESTS", " \n ");
    assert_failed_with(&runner.script("run.sh", &[]), "manifests is empty");
}

/// A runner whose step runs the real binary against `sim` with `manifest`.
fn real_runner(sim: &Simulator, manifest: &tempfile::NamedTempFile, args: &str) -> Runner {
    let mut runner = Runner::new();
    let bin = assert_cmd::cargo::cargo_bin("mcp-access");
    runner
        .set("MCP_ACCESS_BIN", bin.to_str().unwrap())
        .set("INPUT_COMMAND", "plan")
        .set("INPUT_MANIFESTS", manifest.path().to_str().unwrap())
        .set("INPUT_PLAN_FILE", "")
        .set("INPUT_ARGS", args)
        .set("CLOUDFLARE_API_BASE_URL", &sim.base_url())
        .set("CLOUDFLARE_ACCOUNT_ID", sim.account_id())
        .set("CLOUDFLARE_API_TOKEN", sim.token())
        .set("NO_COLOR", "1");
    runner
}

/// The real binary against the simulator, through run.sh: the issue's own cases.
#[tokio::test(flavor = "multi_thread")]
async fn run_with_the_real_binary_plans_and_fails_on_a_typo() {
    tokio::time::timeout(Duration::from_secs(180), async {
        let sim = Simulator::start(SimConfig::default(), Seed::demo())
            .await
            .unwrap();
        let manifest = common::manifest_file(
            "owner: platform\nservers:\n  - app: mcp-server-app\n    downstream: [Internal API]\n",
        );
        let runner = real_runner(
            &sim,
            &manifest,
            "--exit-code\n--output markdown\n--out \"my plan.json\"",
        );
        let out = runner.script("run.sh", &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let outputs = runner.outputs();
        assert_eq!(outputs["exit-code"], "2");
        assert_eq!(outputs["has-changes"], "true");
        assert_eq!(outputs["plan-json"], "<multi-line>");
        assert!(
            runner.path("my plan.json").exists(),
            "--out got the quoted name"
        );
        let summary = std::fs::read_to_string(runner.path("summary")).unwrap();
        assert!(summary.contains("<!-- mcp-access plan -->"), "{summary}");
        assert!(text(&out.stdout).contains("<!-- mcp-access plan -->"));
        assert!(sim.writes().is_empty());

        // The typo from the issue: the step fails, whichever code clap exits with.
        let runner = real_runner(&sim, &manifest, "--exti-code");
        let out = runner.script("run.sh", &[]);
        assert!(!out.status.success(), "a typo must fail the step");
        assert!(!runner.outputs().contains_key("has-changes"));
    })
    .await
    .expect("test timed out");
}

/// The release workflow's packaging (`.ci/package.sh`) and the installer agree: an
/// archive packaged from this build installs, verified, and ships the man pages and
/// the completions.
#[test]
fn a_packaged_release_of_this_build_installs() {
    let mut runner = Runner::new();
    let version = env!("CARGO_PKG_VERSION");
    let tag = format!("v{version}");
    runner.set("ACTION_REF", &tag);
    let bin = assert_cmd::cargo::cargo_bin("mcp-access");
    let release = runner.path(&format!("releases/{tag}"));
    let package = |args: &[&str]| {
        let out = Command::new("bash")
            .arg(format!("{ROOT}/.ci/package.sh"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    // What gets packaged: a wrapper that runs this build (the debug binary itself is
    // hundreds of MB, slow to compress on a busy machine); the docs come from the build.
    let wrapper = runner.path("wrapper");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\nexec '{}' \"$@\"\n", bin.display()),
    )
    .unwrap();
    make_executable(&wrapper);
    let (bin_s, release_s) = (bin.to_str().unwrap(), release.to_str().unwrap());
    for target in [LINUX_X64, "x86_64-pc-windows-msvc"] {
        package(&[
            "archive",
            version,
            target,
            wrapper.to_str().unwrap(),
            bin_s,
            release_s,
        ]);
    }
    let sums = package(&["sums", release_s]);
    assert_eq!(sums.lines().count(), 2, "{sums}");

    let out = runner.script("install.sh", &["release"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let installed = PathBuf::from(&runner.outputs()["bin"]);
    let line = Command::new(&installed).arg("--version").output().unwrap();
    assert!(
        text(&line.stdout).starts_with(&format!("mcp-access {version} (commit ")),
        "{}",
        text(&line.stdout)
    );
    let dir = installed.parent().unwrap();
    for file in [
        "README.md",
        "man/man1/mcp-access.1",
        "man/man1/mcp-access-plan.1",
        "man/man1/mcp-access-sim-serve.1",
        "completions/mcp-access.bash",
        "completions/_mcp-access",
        "completions/mcp-access.fish",
        "completions/_mcp-access.ps1",
        "completions/mcp-access.elv",
    ] {
        let len = std::fs::metadata(dir.join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .len();
        assert!(len > 100, "{file} is nearly empty");
    }

    // The Windows archive installs on a Windows runner.
    std::fs::write(runner.path("output"), "").unwrap();
    runner.set("RUNNER_OS", "Windows");
    let out = runner.script("install.sh", &["release"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(runner.outputs()["bin"].ends_with("x86_64-pc-windows-msvc/mcp-access.exe"));
}

/// The Action examples people copy pin the version this source is: bumping the
/// version without them fails here.
#[test]
fn the_docs_and_examples_pin_this_version() {
    let want = format!("your-org/mcp-access@v{}", env!("CARGO_PKG_VERSION"));
    let mut files = vec![PathBuf::from(format!("{ROOT}/README.md"))];
    for dir in ["docs", "examples/github"] {
        if let Ok(entries) = std::fs::read_dir(format!("{ROOT}/{dir}")) {
            files.extend(entries.map(|e| e.unwrap().path()));
        }
    }
    let mut pins = 0;
    for file in files {
        let Ok(body) = std::fs::read_to_string(&file) else {
            continue;
        };
        for (at, _) in body.match_indices("your-org/mcp-access@") {
            let pin: String = body[at..]
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '`')
                .collect();
            if pin.ends_with("@v...") {
                continue; // prose about pins, not a pin
            }
            assert_eq!(pin, want, "in {}", file.display());
            pins += 1;
        }
    }
    assert!(pins >= 3, "the examples pin the action ({pins} pins found)");
}
