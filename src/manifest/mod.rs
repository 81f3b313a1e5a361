//! Desired state: the manifest (which MCP servers may call which self-hosted apps),
//! loaded from YAML files with `${ENV}` interpolation, validated with every problem
//! reported at once, then resolved against the account's [`Inventory`] into
//! [`Desired`].
//!
//! The YAML library stays behind this module: nothing else in the crate parses YAML,
//! and [`write`](mod@write) is the one place that writes a manifest.
//!
//! [`Inventory`]: crate::inventory::Inventory

mod document;
mod env;
mod error;
mod files;
mod load;
mod location;
mod parse;
mod resolve;
mod selection;
pub mod selector;
mod suggest;
pub mod write;
mod yaml;

use std::fmt;
use std::path::PathBuf;

pub use document::yaml_to_json;
use error::shorten;
pub use error::{MAX_QUOTED_CHARS, MAX_SHOWN_PROBLEMS, ManifestError, Problem, ProblemKind};
pub use load::{load, load_with_env, parse_str};
pub use location::{Located, Location, SourceFile};
pub use resolve::{Desired, DesiredApp, DesiredServer, ServerKind, resolve, resolve_selecting};
pub use selection::{Excluded, Selection, ServerSelection, Skipped};
pub use selector::{Except, Glob, Selector};
pub use yaml::MAX_FILE_BYTES;

/// The owner id used when neither the manifest nor `--owner` names one.
pub const DEFAULT_OWNER: &str = "default";

/// A loaded, validated manifest: what the files say, not yet checked against the
/// account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The ownership id the files agree on, if any names one.
    pub owner: Option<String>,
    /// The account id the files agree on, if any names one (after interpolation).
    pub account_id: Option<String>,
    /// Every server, in file order.
    pub servers: Vec<ServerDecl>,
    /// `adopt: true`: take hand-made grants of the manifest's servers over instead of
    /// duplicating them (the `--adopt` flag sets it too).
    pub adopt: bool,
    /// Hex SHA-256 over the files' names and contents, in load order.
    pub digest: String,
    /// The files read, in load order.
    pub files: Vec<PathBuf>,
}

impl Manifest {
    /// True when a server picks or excepts apps by `tag`.
    pub fn uses_tags(&self) -> bool {
        let tag = |s: &Selector| matches!(s, Selector::Tag(_));
        self.servers.iter().any(|server| {
            server.selectors.iter().any(|s| tag(&s.value))
                || server
                    .except
                    .iter()
                    .any(|e| matches!(&e.value, Except::Selector(s) if tag(s)))
        })
    }

    /// The ownership id to plan with: `flag` (`--owner`) wins over the manifest's
    /// `owner`, else [`DEFAULT_OWNER`].
    pub fn owner_or(&self, flag: Option<&str>) -> String {
        flag.or(self.owner.as_deref())
            .unwrap_or(DEFAULT_OWNER)
            .to_owned()
    }
}

/// One MCP server and the apps it may call with the user's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerDecl {
    /// The MCP server's own Access application.
    pub app: Located<AppRef>,
    /// The self-hosted apps it may call, named exactly (each must resolve to one app).
    pub downstream: Vec<Located<AppRef>>,
    /// The `downstream` entries that are selectors (`{ tag: ... }`, a `name` or
    /// `domain` with a `*`): every self-hosted app they match, possibly none.
    pub selectors: Vec<Located<Selector>>,
    /// `except`: apps taken out of the downstream apps, by reference or selector.
    pub except: Vec<Located<Except>>,
    /// `suspend: true`: the server's managed policy and links are left exactly as they
    /// are in the account, neither repaired nor removed, until `suspend` is removed.
    pub suspended: Option<Suspension>,
}

impl ServerDecl {
    /// True when the server picks apps by selector (so its downstream apps follow the
    /// account, not only the manifest).
    pub fn selects(&self) -> bool {
        !self.selectors.is_empty()
    }
}

/// Why a server is suspended (`suspend: true`, with an optional `reason:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspension {
    /// `reason:`, shown in every plan format.
    pub reason: Option<String>,
}

/// How a manifest names an Access application.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AppRef {
    /// The exact app name; must be unique in the account.
    Name(String),
    /// A hostname the app answers on (stored lowercase).
    Domain(String),
    /// The app's uid.
    Uid(String),
}

impl fmt::Display for AppRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Shown in error messages: a name of a megabyte is cut.
        match self {
            AppRef::Name(name) => write!(f, "{:?}", shorten(name)),
            AppRef::Domain(domain) => write!(f, "{{ domain: {} }}", shorten(domain)),
            AppRef::Uid(uid) => write!(f, "{{ uid: {} }}", shorten(uid)),
        }
    }
}

/// Checks an ownership id: 1 to 32 of `a-z`, `0-9`, `-`. It ends up in policy names,
/// where it tells our policies from everyone else's.
pub fn validate_owner(owner: &str) -> Result<(), String> {
    if owner.is_empty() || owner.len() > 32 {
        return Err(format!(
            "owner `{}` must be 1 to 32 characters long",
            shorten(owner)
        ));
    }
    if let Some(bad) = owner
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "owner `{owner}` has `{bad}`; only `a-z`, `0-9` and `-` are allowed"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_short_lowercase_slugs() {
        assert!(validate_owner("platform").is_ok());
        assert!(validate_owner("team-7").is_ok());
        assert!(validate_owner(&"a".repeat(32)).is_ok());
        assert!(
            validate_owner(&"a".repeat(33))
                .unwrap_err()
                .contains("1 to 32")
        );
        assert!(validate_owner("").is_err());
        assert!(validate_owner("Platform").unwrap_err().contains("`P`"));
        assert!(validate_owner("a b").is_err());
        assert!(validate_owner("a]").is_err());
    }

    #[test]
    fn app_refs_display_the_way_they_are_written() {
        assert_eq!(
            AppRef::Name("Internal API".into()).to_string(),
            "\"Internal API\""
        );
        assert_eq!(
            AppRef::Domain("x.example.com".into()).to_string(),
            "{ domain: x.example.com }"
        );
        assert_eq!(AppRef::Uid("0f3c".into()).to_string(), "{ uid: 0f3c }");
    }
}
