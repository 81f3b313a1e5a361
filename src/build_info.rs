//! What this binary is: its version and the commit it was built from (found by
//! `build.rs`; `unknown` when the source had no git history and nobody said).

/// The crate version, e.g. `0.1.0`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The first 12 hex digits of the commit the binary was built from, or `unknown`.
pub const COMMIT: &str = env!("MCP_ACCESS_COMMIT");

/// What `--version` prints after the program name: `0.1.0 (commit 0123456789ab)`.
pub const VERSION_LINE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("MCP_ACCESS_COMMIT"),
    ")"
);
