//! mcp-access: reconcile Cloudflare Access "Linked App Token" policies from a manifest
//! of MCP servers and the internal apps they may call with the user's identity.

pub mod cloudflare;
pub mod forward;
pub mod inventory;
pub mod manifest;
pub mod sim;
