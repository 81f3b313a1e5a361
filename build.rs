//! Records the commit the binary is built from, for `--version` and the JSON plan's
//! `generator`, as the `MCP_ACCESS_COMMIT` compile-time variable.
//!
//! Where it comes from, first found wins:
//! 1. `MCP_ACCESS_COMMIT` in the build environment (a packager building from a source
//!    tarball knows the commit; the release workflow sets it too);
//! 2. `git`, when this crate is the top of a git work tree (not a crate vendored inside
//!    someone else's repository, whose commit would be a lie);
//! 3. `.cargo_vcs_info.json`, which `cargo package` writes, so `cargo install
//!    mcp-access` from crates.io still knows its commit;
//! 4. `unknown`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=MCP_ACCESS_COMMIT");
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = from_env()
        .or_else(|| from_git(&manifest_dir))
        .or_else(|| from_cargo_vcs_info(&manifest_dir))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=MCP_ACCESS_COMMIT={commit}");
}

fn from_env() -> Option<String> {
    let value = std::env::var("MCP_ACCESS_COMMIT").ok()?;
    let value = value.trim();
    // Anything else (a tag name, say) is kept as given, within reason: it ends up in
    // one line of `--version`.
    let plain = |c: char| c.is_ascii_alphanumeric() || "._+-".contains(c);
    short_hash(value).or_else(|| {
        (!value.is_empty() && value.len() <= 64 && value.chars().all(plain))
            .then(|| value.to_owned())
    })
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn from_git(dir: &Path) -> Option<String> {
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same(Path::new(&top), dir) {
        return None;
    }
    // Rebuild when HEAD moves: HEAD itself (branch switches, detached checkouts), its
    // reflog (appended on every commit and checkout), the branch's ref file and
    // packed-refs (where the ref lives when the reflog is off). `--git-path` resolves
    // each for linked worktrees too. Only existing files are named: Cargo
    // re-runs a build script on every build while a named file is missing.
    let mut watched = vec![
        "HEAD".to_owned(),
        "logs/HEAD".to_owned(),
        "packed-refs".to_owned(),
    ];
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        if let Some(path) = git(dir, &["rev-parse", "--git-path", &name]) {
            let path = dir.join(path);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    short_hash(&git(dir, &["rev-parse", "HEAD"])?)
}

fn from_cargo_vcs_info(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(".cargo_vcs_info.json")).ok()?;
    // `{"git": {"sha1": "<40 hex>"}, "path_in_vcs": ""}`: the only 40-hex-digit string.
    let at = text.find("\"sha1\"")?;
    let rest = &text[at + 6..];
    let start = rest.find(|c: char| c.is_ascii_hexdigit())?;
    short_hash(rest[start..].split('"').next()?)
}

/// The first 12 hex digits of a full commit hash; `None` when `s` is not one.
fn short_hash(s: &str) -> Option<String> {
    let ok = s.len() >= 12 && s.chars().all(|c| c.is_ascii_hexdigit());
    ok.then(|| s[..12].to_ascii_lowercase())
}
