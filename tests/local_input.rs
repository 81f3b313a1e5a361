//! Hostile local input, through the binary: manifest directories with entries that
//! cannot be read, fifos, unknown YAML tags, bad tokens, huge unknown names and
//! `${VAR}` bombs. Each must be a clear error before any write, in bounded time.

mod common;

use std::fmt::Write as _;
use std::future::Future;
use std::path::Path;
use std::time::Duration;

use common::cli;
use mcp_access::sim::{Seed, SimConfig, Simulator};

/// Bound on every test.
const TIMEOUT: Duration = Duration::from_secs(120);

/// The demo manifest split in two files, one server each.
const FIRST: &str = "version: 1
owner: platform
servers:
  - app: mcp-server-app
    downstream: [Internal API, Company wiki]
";
const SECOND: &str = "owner: platform
servers:
  - app: { name: support-mcp }
    downstream:
      - Company wiki
      - { domain: status.internal.example.com }
";

/// Makes a hostile directory entry at the path given.
type Make = Box<dyn Fn(&Path)>;

async fn within<F: Future>(body: F) -> F::Output {
    tokio::time::timeout(TIMEOUT, body)
        .await
        .expect("test timed out")
}

/// A simulator with the demo account, converged on `dir` (holding `FIRST` and
/// `SECOND`), with an empty journal.
async fn converged(dir: &Path) -> Simulator {
    let sim = Simulator::start(SimConfig::default(), Seed::demo())
        .await
        .unwrap();
    std::fs::write(dir.join("a.yaml"), FIRST).unwrap();
    std::fs::write(dir.join("b.yaml"), SECOND).unwrap();
    cli(&sim)
        .args(["reconcile", "-f"])
        .arg(dir)
        .assert()
        .success();
    assert!(
        !sim.writes().is_empty(),
        "the first reconcile does the work"
    );
    sim.clear_journal();
    cli(&sim)
        .args(["plan", "--exit-code", "-f"])
        .arg(dir)
        .assert()
        .code(0);
    sim
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_manifest_in_a_directory_is_an_error_and_nothing_is_written() {
    within(async {
        let dir = tempfile::tempdir().unwrap();
        let sim = converged(dir.path()).await;
        let b = dir.path().join("b.yaml");
        let elsewhere = tempfile::tempdir().unwrap();
        let elsewhere_path = elsewhere.path().to_owned();

        // (what replaces b.yaml, what the error must say)
        let cases: Vec<(&str, Make, &str)> = vec![
            (
                "dangling symlink",
                Box::new(|b: &Path| std::os::unix::fs::symlink("gone/b.yaml", b).unwrap()),
                "dangling symlink to `gone/b.yaml`",
            ),
            (
                "symlink loop",
                Box::new(|b: &Path| std::os::unix::fs::symlink(b.file_name().unwrap(), b).unwrap()),
                "symlink loop",
            ),
            (
                "fifo",
                Box::new(|b: &Path| {
                    let made = std::process::Command::new("mkfifo")
                        .arg(b)
                        .status()
                        .unwrap();
                    assert!(made.success());
                }),
                "fifo",
            ),
            (
                "directory named b.yaml",
                Box::new(|b: &Path| std::fs::create_dir(b).unwrap()),
                "a directory, not a manifest file",
            ),
            (
                "symlink to a directory",
                Box::new(move |b: &Path| std::os::unix::fs::symlink(&elsewhere_path, b).unwrap()),
                "a directory, not a manifest file",
            ),
        ];
        for (case, make, says) in cases {
            let _ = std::fs::remove_file(&b).or_else(|_| std::fs::remove_dir(&b));
            make(&b);
            for command in ["reconcile", "plan", "validate"] {
                let out = cli(&sim)
                    .args([command, "-f"])
                    .arg(dir.path())
                    .timeout(Duration::from_secs(30))
                    .output()
                    .unwrap();
                let err = stderr(&out);
                assert_eq!(out.status.code(), Some(1), "{case}, {command}: {err}");
                assert!(err.contains("b.yaml"), "{case}, {command}: {err}");
                assert!(err.contains(says), "{case}, {command}: {err}");
            }
            assert!(sim.writes().is_empty(), "{case}: {:#?}", sim.writes());
        }

        // A symlink to a regular file (a Kubernetes ConfigMap mount) is read.
        std::fs::remove_file(&b).unwrap();
        let target = elsewhere.path().join("real.yaml");
        std::fs::write(&target, SECOND).unwrap();
        std::os::unix::fs::symlink(&target, &b).unwrap();
        cli(&sim)
            .args(["plan", "--exit-code", "-f"])
            .arg(dir.path())
            .assert()
            .code(0);
        sim.shutdown().await;
    })
    .await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_manifest_without_read_permission_is_an_error_not_a_skip() {
    use std::os::unix::fs::PermissionsExt;
    within(async {
        let dir = tempfile::tempdir().unwrap();
        let sim = converged(dir.path()).await;
        let b = dir.path().join("b.yaml");
        std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o000)).unwrap();
        if std::fs::read(&b).is_ok() {
            // Running as root: permissions do not apply, nothing to test.
            eprintln!("skipped: permissions do not stop this user");
            return;
        }
        let out = cli(&sim)
            .args(["reconcile", "-f"])
            .arg(dir.path())
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("b.yaml") && err.contains("permission denied"),
            "{err}"
        );
        assert!(sim.writes().is_empty());
        sim.shutdown().await;
    })
    .await;
}

#[cfg(unix)]
#[test]
fn a_fifo_named_on_the_command_line_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // No writer ever opens the fifo: a blocking open would hang until the timeout.
    let out = assert_cmd::Command::cargo_bin("mcp-access")
        .unwrap()
        .env_clear()
        .args(["validate", "-f"])
        .arg(&fifo)
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("fifo.yaml") && err.contains("fifo (named pipe)"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_yaml_tag_is_an_error_naming_the_tag_file_and_line() {
    within(async {
        let sim = Simulator::start(SimConfig::default(), Seed::demo())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.yaml");
        // Read as `app: mcp-server-app`, this would be a valid manifest.
        std::fs::write(
            &path,
            "version: 1\nowner: platform\nservers:\n  - app: !Ref mcp-server-app\n    downstream: [Internal API]\n",
        )
        .unwrap();
        for command in ["reconcile", "validate"] {
            let out = cli(&sim)
                .args([command, "-f"])
                .arg(&path)
                .output()
                .unwrap();
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{command}: {err}");
            assert!(err.contains("unknown YAML tag `!Ref`"), "{command}: {err}");
            assert!(err.contains("access.yaml:4:10"), "{command}: {err}");
        }
        assert!(sim.writes().is_empty());
        sim.shutdown().await;
    })
    .await;
}

/// A token file holding `text`, with `mode`.
#[cfg(unix)]
fn token_file(dir: &Path, text: &str, mode: u32) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("token");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_token_that_cannot_be_a_header_is_a_start_up_error_not_a_retry_loop() {
    within(async {
        let sim = Simulator::start(SimConfig::default(), Seed::demo())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("access.yaml");
        std::fs::write(&manifest, FIRST).unwrap();
        let half = &sim.token()[..4];
        // The token with a second line (a file saved with a comment, two tokens pasted).
        let two_lines = format!("{}\nsecond-line-secret\n", sim.token());
        let file = token_file(dir.path(), &two_lines, 0o600);
        let started = std::time::Instant::now();
        let from_file = cli(&sim)
            .env_remove("CLOUDFLARE_API_TOKEN")
            .args(["plan", "--api-token-file"])
            .arg(&file)
            .arg("-f")
            .arg(&manifest)
            .output()
            .unwrap();
        let from_env = cli(&sim)
            .env("CLOUDFLARE_API_TOKEN", format!("{}\u{7}x", sim.token()))
            .args(["run", "--once", "-f"])
            .arg(&manifest)
            .output()
            .unwrap();
        // Before: "failed to parse header value", retried for the 6-minute deadline.
        assert!(started.elapsed() < Duration::from_secs(30));
        for (out, says) in [
            (&from_file, "has a line break inside it (at character 10)"),
            (
                &from_env,
                "CLOUDFLARE_API_TOKEN has a control character (U+0007)",
            ),
        ] {
            let err = stderr(out);
            assert_eq!(out.status.code(), Some(1), "{err}");
            assert!(err.contains(says), "{err}");
            assert!(
                !err.contains(half) && !err.contains("second-line-secret"),
                "the token leaked: {err}"
            );
        }
        assert!(stderr(&from_file).contains("token"), "names the file");
        assert!(sim.journal().is_empty(), "no request was sent");
        sim.shutdown().await;
    })
    .await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_token_file_others_can_read_is_used_with_one_warning() {
    within(async {
        let sim = Simulator::start(SimConfig::default(), Seed::demo())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("access.yaml");
        std::fs::write(&manifest, FIRST).unwrap();
        let plan = |mode: u32| {
            let file = token_file(dir.path(), &format!("{}\n", sim.token()), mode);
            cli(&sim)
                .env_remove("CLOUDFLARE_API_TOKEN")
                .args(["plan", "--api-token-file"])
                .arg(&file)
                .arg("-f")
                .arg(&manifest)
                .output()
                .unwrap()
        };
        let open = plan(0o644);
        let err = stderr(&open);
        assert_eq!(open.status.code(), Some(0), "{err}");
        assert_eq!(
            err.matches("can be read by group or others (permissions 0644)")
                .count(),
            1,
            "{err}"
        );
        assert!(err.contains("chmod 600"), "{err}");
        assert!(!err.contains(sim.token()), "{err}");
        let closed = plan(0o600);
        assert_eq!(closed.status.code(), Some(0));
        assert!(!stderr(&closed).contains("group or others"));
        sim.shutdown().await;
    })
    .await;
}

/// A simulator with `apps` synthetic apps.
async fn big_account(apps: usize) -> Simulator {
    use mcp_access::sim::synthetic::{Shape, synthetic};
    let account = synthetic(Shape {
        apps,
        servers: 10,
        foreign_policies: 5,
        missing_apps: 0,
        double_apps: 0,
    });
    Simulator::start(SimConfig::default(), account.seed)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn did_you_mean_is_bounded_for_huge_names_and_many_unknown_names() {
    within(async {
        let sim = big_account(5010).await;
        let dir = tempfile::tempdir().unwrap();
        let server = "  - app: server-1\n    downstream:\n";

        // One unknown name of 900 KB (before: 114 s of string distances, and the name
        // printed whole).
        let huge = dir.path().join("huge.yaml");
        std::fs::write(
            &huge,
            format!(
                "owner: bench\nservers:\n{server}      - \"{}\"\n",
                "q".repeat(900_000)
            ),
        )
        .unwrap();
        let started = std::time::Instant::now();
        let out = cli(&sim).args(["plan", "-f"]).arg(&huge).output().unwrap();
        let took = started.elapsed();
        let err = stderr(&out);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            &err[..err.len().min(2000)]
        );
        assert!(
            err.contains("(900000 characters)"),
            "{}",
            &err[..err.len().min(2000)]
        );
        assert!(err.len() < 4096, "{} bytes of errors", err.len());
        assert!(took < Duration::from_secs(30), "{took:?}");

        // 20,000 unknown names, a few of them typos of real apps (before: 173 s, 12.7 MB
        // printed).
        let many = dir.path().join("many.yaml");
        let mut text = format!("owner: bench\nservers:\n{server}");
        for i in 0..20_000 {
            writeln!(text, "      - no-such-app-{i:05}").unwrap();
        }
        std::fs::write(&many, text).unwrap();
        let started = std::time::Instant::now();
        let out = cli(&sim).args(["plan", "-f"]).arg(&many).output().unwrap();
        let took = started.elapsed();
        let err = stderr(&out);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            &err[..err.len().min(2000)]
        );
        assert!(
            err.contains("the manifest has 20000 problems"),
            "{}",
            &err[..2000]
        );
        assert!(
            err.contains("... and 19950 more problems (fix these first)"),
            "{}",
            &err[err.len().saturating_sub(2000)..]
        );
        assert!(err.len() < 64 * 1024, "{} bytes of errors", err.len());
        assert!(took < Duration::from_secs(60), "{took:?}");
        assert!(sim.writes().is_empty());

        // A typo still gets its suggestion.
        let typo = dir.path().join("typo.yaml");
        std::fs::write(
            &typo,
            format!("owner: bench\nservers:\n{server}      - app-4999x\n"),
        )
        .unwrap();
        let out = cli(&sim).args(["plan", "-f"]).arg(&typo).output().unwrap();
        assert!(
            stderr(&out).contains("did you mean `app-4999`?"),
            "{}",
            stderr(&out)
        );
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn variable_expansion_has_the_same_1_mib_budget_as_the_file() {
    within(async {
        let sim = Simulator::start(SimConfig::default(), Seed::demo())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        // 8,000 references to a 120 KB variable: 960 MB expanded (before: expanded in
        // full, and the error echoed the whole value, a 960 MB stderr).
        let path = dir.path().join("bomb.yaml");
        let mut text = String::from("owner: platform\nservers:\n  - app: mcp-server-app\n    downstream:\n");
        for _ in 0..8000 {
            text.push_str("      - ${BIG}\n");
        }
        std::fs::write(&path, &text).unwrap();
        let value = "v".repeat(120 * 1024);
        let started = std::time::Instant::now();
        let out = cli(&sim)
            .env("BIG", &value)
            .args(["plan", "-f"])
            .arg(&path)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{}", &err[..err.len().min(2000)]);
        assert!(
            err.contains("`${BIG}` expands to 122880 bytes, and the manifest would grow past the 1048576-byte limit"),
            "{}",
            &err[..err.len().min(2000)]
        );
        // The file's own 117 KB and seven expansions fit in 1 MiB; the eighth does not.
        assert!(err.contains("bomb.yaml:12:9"), "the 8th reference: {err}");
        assert!(!err.contains(&"v".repeat(300)), "the value is not echoed");
        assert!(err.len() < 8 * 1024, "{} bytes of errors", err.len());
        assert!(started.elapsed() < Duration::from_secs(30));

        // A long value that ends up in a message is quoted cut, with its length.
        let long = dir.path().join("long.yaml");
        std::fs::write(
            &long,
            "owner: platform\nservers:\n  - app: ${BIG}\n    downstream: []\n",
        )
        .unwrap();
        let out = cli(&sim)
            .env("BIG", &value)
            .args(["plan", "-f"])
            .arg(&long)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1));
        assert!(err.contains("… (122880 characters)"), "{err}");
        assert!(err.len() < 4 * 1024, "{} bytes of errors", err.len());
        assert!(sim.writes().is_empty());
        sim.shutdown().await;
    })
    .await;
}
