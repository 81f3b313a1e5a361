//! Ownership of policies. Access policies have no labels, so the marker lives in the
//! name: `[mcp-access:<owner>] MCP server <server name>`. A policy is ours iff its name
//! starts with our marker and owner id. Which server it serves is read from its
//! `linked_app_token` rule, not its name: names are cosmetic and get updated.

/// The marker every managed policy name starts with, before the owner id.
pub const MARKER: &str = "[mcp-access:";

/// The name of a server's managed policy.
pub fn policy_name(owner: &str, server_name: &str) -> String {
    format!("{MARKER}{owner}] MCP server {server_name}")
}

/// The owner id in a managed policy name, or `None` for a policy mcp-access never made.
pub fn owner_of(policy_name: &str) -> Option<&str> {
    let rest = policy_name.strip_prefix(MARKER)?;
    let (owner, _) = rest.split_once(']')?;
    (!owner.is_empty()).then_some(owner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_round_trips_and_foreign_names_have_none() {
        assert_eq!(
            owner_of(&policy_name("platform", "support-mcp")),
            Some("platform")
        );
        assert_eq!(owner_of("Allow employees"), None);
        assert_eq!(owner_of("[mcp-access:] x"), None);
        assert_eq!(owner_of("[mcp-access:team"), None);
        assert_eq!(owner_of("x [mcp-access:platform] y"), None);
    }
}
