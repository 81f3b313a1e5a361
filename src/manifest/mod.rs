//! Desired state: manifest types, loading and resolution. (Placeholder types until the
//! manifest branch lands.)

/// How an MCP server forwards the user's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// A self-hosted Access app.
    SelfHosted,
    /// An Access for SaaS OIDC app.
    OidcSaas,
}

impl ServerKind {
    /// The header the server sends downstream.
    pub fn forward_header(&self) -> &'static str {
        match self {
            ServerKind::SelfHosted => "Cf-Access-Token",
            ServerKind::OidcSaas => "Authorization: Bearer",
        }
    }
}

/// The resolved manifest.
#[derive(Debug, Clone)]
pub struct Desired {
    /// Ownership id.
    pub owner: String,
    /// Servers sorted by uid.
    pub servers: Vec<DesiredServer>,
}

/// One MCP server.
#[derive(Debug, Clone)]
pub struct DesiredServer {
    /// App uid.
    pub uid: String,
    /// App name.
    pub name: String,
    /// Kind.
    pub kind: ServerKind,
    /// Downstream apps sorted by uid.
    pub downstream: Vec<DesiredApp>,
}

/// A downstream app.
#[derive(Debug, Clone)]
pub struct DesiredApp {
    /// uid.
    pub uid: String,
    /// name.
    pub name: String,
    /// domain.
    pub domain: Option<String>,
}

/// Placeholder.
#[derive(Debug, Clone)]
pub struct Manifest;
/// Placeholder.
#[derive(Debug, thiserror::Error)]
#[error("manifest")]
pub struct ManifestError;
/// Placeholder.
pub fn resolve(
    _m: &Manifest,
    _o: &str,
    _i: &crate::inventory::Inventory,
) -> Result<Desired, ManifestError> {
    Err(ManifestError)
}
