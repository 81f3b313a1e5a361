//! The minimum Rust version the crate declares (`rust-version` in Cargo.toml, and the
//! README's install section) is the true one: no dependency, direct or not, asks for a
//! newer Rust. A dependency bump that raises the bar fails here, not on a user's
//! machine.

use std::process::Command;

use serde_json::Value;

/// `1.89` or `1.85.0` as comparable numbers.
fn version(text: &str) -> (u64, u64, u64) {
    let mut parts = text.trim().split('.').map(|p| p.parse::<u64>().unwrap());
    let mut next = || parts.next().unwrap_or(0);
    (next(), next(), next())
}

fn metadata() -> Value {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn no_dependency_needs_a_newer_rust_than_the_crate_declares() {
    let metadata = metadata();
    let packages = metadata["packages"].as_array().unwrap();
    let ours = packages
        .iter()
        .find(|p| p["name"] == env!("CARGO_PKG_NAME"))
        .unwrap();
    let declared = ours["rust_version"]
        .as_str()
        .expect("Cargo.toml declares rust-version");
    // Every package in the resolved graph: normal, build and dev dependencies, on every
    // platform (`cargo test` on the minimum toolchain needs them all).
    let too_new: Vec<String> = packages
        .iter()
        .filter_map(|p| {
            let needs = p["rust_version"].as_str()?;
            (version(needs) > version(declared))
                .then(|| format!("{} {} needs Rust {needs}", p["name"], p["version"]))
        })
        .collect();
    assert!(
        too_new.is_empty(),
        "Cargo.toml declares rust-version {declared}, but: {}. Raise rust-version (and the README's install section) or pin the dependency.",
        too_new.join("; ")
    );
    // Our own code's needs are checked by clippy's `incompatible_msrv` lint, which
    // reads the same rust-version.
}

#[test]
fn the_readme_states_the_declared_minimum() {
    let readme = include_str!("../README.md");
    let declared = env!("CARGO_PKG_RUST_VERSION");
    assert!(
        readme.contains(&format!("Rust {declared} or newer")),
        "README.md should say \"Rust {declared} or newer\""
    );
}
