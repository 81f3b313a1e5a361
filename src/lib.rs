//! mcp-access: reconcile Cloudflare Access "Linked App Token" policies from a manifest
//! of MCP servers and the internal apps they may call with the user's identity.
//!
//! The pure core is [`manifest`] (desired state) and [`plan`] (the diff and its
//! renderers); [`cloudflare`], [`apply`] and [`sim`] are the I/O edges.

pub mod apply;
pub mod cloudflare;
pub mod inventory;
pub mod manifest;
pub mod plan;
pub mod reconcile;
pub mod sim;
