//! Forwarding the user's identity from an MCP server to the internal apps it calls.
//!
//! Reconcile creates the Linked App Token policies on the downstream apps; this module is
//! the other half: the MCP server must pass the user's token along on every downstream
//! request, in the header the reference page prescribes for how the MCP server is deployed
//! ([`ForwardMode`]):
//!
//! - a self-hosted MCP server, or an `mcp` (MCP server) Access application, receives
//!   the Access JWT in `Cf-Access-Jwt-Assertion` and sends it downstream as
//!   `Cf-Access-Token`;
//! - an OIDC `SaaS` MCP server (MCP OAuth) receives `Authorization: Bearer <access_token>`
//!   and sends the same header downstream.
//!
//! The pieces compose: [`identity_from_headers`] validates the incoming header into an
//! [`Identity`] (whose token never shows in `Debug` or logs), [`downstream_headers`]
//! builds the header set that is safe to send on, [`ForwardIdentity`] adds the identity to
//! a `reqwest` request the MCP server makes itself, and [`proxy_router`] is a ready-made
//! axum reverse proxy doing all of it. Only the one identity header crosses: cookies
//! (`CF_Authorization` included), other `Authorization` values, Access service-token
//! headers and hop-by-hop headers are dropped, and a request without a well-formed identity
//! is refused with 401 instead of being sent downstream anonymously.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use reqwest::Url;
use secrecy::{ExposeSecret as _, SecretString};

/// Header in which Cloudflare Access hands a self-hosted app the user's JWT.
pub const CF_ACCESS_JWT_ASSERTION: HeaderName = HeaderName::from_static("cf-access-jwt-assertion");

/// Header in which a self-hosted MCP server passes the user's JWT to downstream apps.
pub const CF_ACCESS_TOKEN: HeaderName = HeaderName::from_static("cf-access-token");

/// Largest request body [`proxy_router`] buffers unless told otherwise (10 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 10 * 1024 * 1024;

/// How the MCP server is deployed, which decides where the user's token comes from and
/// where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ForwardMode {
    /// The MCP server is a self-hosted Access application, or an `mcp` (MCP server)
    /// application: the token arrives in `Cf-Access-Jwt-Assertion` and leaves in
    /// `Cf-Access-Token`.
    ///
    /// NOTE (Managed OAuth docs, `http-apps/managed-oauth.mdx`): the origin of "a
    /// self-hosted app or an MCP server app" forwards `Cf-Access-Jwt-Assertion` as
    /// `Cf-Access-Token` for Linked App Token.
    SelfHosted,
    /// The MCP server is an Access for `SaaS` OIDC application implementing MCP OAuth: the
    /// access token arrives and leaves as `Authorization: Bearer <access_token>`.
    OidcSaas,
}

impl ForwardMode {
    /// The incoming header that carries the user's token.
    pub fn incoming_header(self) -> HeaderName {
        match self {
            // NOTE: reference page: "The MCP server receives the user's JWT from Access in
            // the Cf-Access-Jwt-Assertion header".
            Self::SelfHosted => CF_ACCESS_JWT_ASSERTION,
            // NOTE: reference page: an OIDC SaaS MCP server "receives an OAuth access_token
            // from Cloudflare Access" through MCP OAuth, which sends it as a bearer token.
            Self::OidcSaas => header::AUTHORIZATION,
        }
    }

    /// The header that carries the user's token on downstream requests.
    pub fn downstream_header(self) -> HeaderName {
        match self {
            // NOTE: reference page: "forward it to downstream applications in the
            // Cf-Access-Token header".
            Self::SelfHosted => CF_ACCESS_TOKEN,
            // NOTE: reference page: "forwards this token to downstream self-hosted
            // applications in the Authorization: Bearer header".
            Self::OidcSaas => header::AUTHORIZATION,
        }
    }

    /// The downstream header as a plan shows it: `Cf-Access-Token` or
    /// `Authorization: Bearer`.
    pub fn downstream_header_label(self) -> &'static str {
        match self {
            Self::SelfHosted => "Cf-Access-Token",
            Self::OidcSaas => "Authorization: Bearer",
        }
    }

    /// The name used on the command line and in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SelfHosted => "self-hosted",
            Self::OidcSaas => "oidc-saas",
        }
    }
}

impl fmt::Display for ForwardMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ForwardMode {
    type Err = ForwardError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            // An `mcp` app forwards the way a self-hosted one does.
            "self-hosted" | "mcp" => Ok(Self::SelfHosted),
            "oidc-saas" => Ok(Self::OidcSaas),
            other => Err(ForwardError::UnknownMode(other.to_owned())),
        }
    }
}

/// The user's token, checked for shape and tied to the mode it was received in.
///
/// `Debug` prints `(redacted)` in place of the token; [`Identity::token`] is the only way
/// to read it.
#[derive(Clone)]
pub struct Identity {
    mode: ForwardMode,
    token: SecretString,
}

impl Identity {
    /// Wraps a token the MCP server obtained itself (for example from its own OAuth code),
    /// checking that it looks like a JWT.
    pub fn new(mode: ForwardMode, token: SecretString) -> Result<Self, ForwardError> {
        let header = mode.incoming_header();
        let raw = token.expose_secret();
        if raw.is_empty() {
            return Err(ForwardError::EmptyIdentity { header });
        }
        if !looks_like_jwt(raw) {
            return Err(ForwardError::MalformedToken { header });
        }
        Ok(Self { mode, token })
    }

    /// The mode this identity is forwarded in.
    pub fn mode(&self) -> ForwardMode {
        self.mode
    }

    /// The token itself; expose it only to put it on the wire.
    pub fn token(&self) -> &SecretString {
        &self.token
    }

    /// The header name and value to put on a downstream request. The value is marked
    /// sensitive, so `http`'s `Debug` hides it and HTTP/2 never indexes it.
    pub fn downstream_header(&self) -> (HeaderName, HeaderValue) {
        let raw = self.token.expose_secret();
        let mut value = match self.mode {
            ForwardMode::SelfHosted => HeaderValue::from_str(raw),
            ForwardMode::OidcSaas => HeaderValue::from_str(&format!("Bearer {raw}")),
        }
        // The token passed `looks_like_jwt`: base64url characters and dots only.
        .expect("a JWT-shaped token is a valid header value");
        value.set_sensitive(true);
        (self.mode.downstream_header(), value)
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("mode", &self.mode)
            .field("token", &format_args!("(redacted)"))
            .finish()
    }
}

/// Why a request could not be forwarded. Messages name headers, never their values.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The identity header is absent.
    #[error(
        "request has no {header} header; the MCP server only calls downstream apps on behalf \
         of an authenticated user"
    )]
    MissingIdentity { header: HeaderName },
    /// The identity header appears more than once.
    #[error("request carries several {header} headers; send exactly one")]
    AmbiguousIdentity { header: HeaderName },
    /// The identity header is present but empty.
    #[error("the {header} header is empty")]
    EmptyIdentity { header: HeaderName },
    /// In OIDC `SaaS` mode, `Authorization` does not use the Bearer scheme.
    #[error("the authorization header must be `Bearer <access_token>` (MCP OAuth access token)")]
    NotBearer,
    /// The token is not shaped like a JWT.
    #[error(
        "the {header} header does not hold a JWT (expected three base64url segments \
         separated by dots)"
    )]
    MalformedToken { header: HeaderName },
    /// The downstream base URL cannot be used.
    #[error("downstream URL {url} is not usable: {reason}")]
    InvalidDownstream { url: String, reason: &'static str },
    /// An unknown [`ForwardMode`] name.
    #[error("unknown forwarding mode `{0}`; expected `self-hosted`, `mcp` or `oidc-saas`")]
    UnknownMode(String),
    /// The request path would leave the downstream base path (`..` segments).
    #[error("request path leaves the downstream base path")]
    PathOutsideBase,
    /// The request body is larger than the proxy buffers.
    #[error("request body is larger than {limit} bytes")]
    BodyTooLarge { limit: usize },
    /// The request body could not be read from the client.
    #[error("could not read the request body")]
    RequestBody(#[source] axum::Error),
    /// The downstream app could not be reached or did not answer.
    #[error("downstream request failed")]
    Downstream(#[source] reqwest::Error),
}

impl ForwardError {
    /// HTTP status the proxy answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingIdentity { .. }
            | Self::AmbiguousIdentity { .. }
            | Self::EmptyIdentity { .. }
            | Self::NotBearer
            | Self::MalformedToken { .. } => StatusCode::UNAUTHORIZED,
            Self::PathOutsideBase | Self::RequestBody(_) => StatusCode::BAD_REQUEST,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Downstream(e) if e.is_timeout() => StatusCode::GATEWAY_TIMEOUT,
            Self::Downstream(_) => StatusCode::BAD_GATEWAY,
            Self::InvalidDownstream { .. } | Self::UnknownMode(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// Short machine-readable code, used in response bodies and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingIdentity { .. } => "missing_identity",
            Self::AmbiguousIdentity { .. } => "ambiguous_identity",
            Self::EmptyIdentity { .. } => "empty_identity",
            Self::NotBearer => "not_bearer",
            Self::MalformedToken { .. } => "malformed_token",
            Self::InvalidDownstream { .. } => "invalid_downstream",
            Self::UnknownMode(_) => "unknown_mode",
            Self::PathOutsideBase => "path_outside_base",
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::RequestBody(_) => "request_body",
            Self::Downstream(_) => "downstream_unavailable",
        }
    }

    fn concerns_bearer(&self) -> bool {
        match self {
            Self::NotBearer => true,
            Self::MissingIdentity { header }
            | Self::AmbiguousIdentity { header }
            | Self::EmptyIdentity { header }
            | Self::MalformedToken { header } => header == header::AUTHORIZATION,
            _ => false,
        }
    }
}

impl IntoResponse for ForwardError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.code(), "message": self.to_string() });
        let mut response = (self.status(), axum::Json(body)).into_response();
        if self.concerns_bearer() {
            // RFC 6750 section 3: a 401 for a bearer-protected resource names the scheme.
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        response
    }
}

/// Reads and checks the user's token from an incoming request's headers.
pub fn identity_from_headers(
    mode: ForwardMode,
    headers: &HeaderMap,
) -> Result<Identity, ForwardError> {
    let header = mode.incoming_header();
    let mut values = headers.get_all(&header).iter();
    let value = values.next().ok_or_else(|| ForwardError::MissingIdentity {
        header: header.clone(),
    })?;
    if values.next().is_some() {
        return Err(ForwardError::AmbiguousIdentity { header });
    }
    let raw = value
        .to_str()
        .map_err(|_| ForwardError::MalformedToken {
            header: header.clone(),
        })?
        .trim();
    if raw.is_empty() {
        return Err(ForwardError::EmptyIdentity { header });
    }
    let token = match mode {
        ForwardMode::SelfHosted => raw,
        ForwardMode::OidcSaas => bearer_token(raw)?,
    };
    Identity::new(mode, SecretString::from(token))
}

/// The token of an `Authorization: Bearer <token>` value. The scheme is case-insensitive
/// (RFC 9110 section 11.1).
fn bearer_token(value: &str) -> Result<&str, ForwardError> {
    let (scheme, token) = value.split_once(' ').ok_or(ForwardError::NotBearer)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ForwardError::NotBearer);
    }
    Ok(token.trim_start())
}

/// Three non-empty base64url segments separated by dots: a JWS in compact serialisation.
///
/// NOTE: the reference page says Access "will validate the JWT token against the Linked
/// App Token rule", so anything else would be rejected downstream anyway; refusing it here
/// gives the caller a clear 401 instead of a confusing downstream answer. Signatures are
/// not verified: the MCP server is not the audience, the downstream Access is.
fn looks_like_jwt(token: &str) -> bool {
    let segments: Vec<&str> = token.split('.').collect();
    segments.len() == 3
        && segments.iter().all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Hop-by-hop headers (RFC 9110 section 7.6.1), plus the legacy ones proxies still drop.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Credentials other than the identity being forwarded. Everything starting with `cf-` is
/// dropped as well (see [`is_forwardable`]).
const CREDENTIALS: [HeaderName; 6] = [
    header::AUTHORIZATION,
    header::PROXY_AUTHORIZATION,
    header::COOKIE,
    HeaderName::from_static("x-api-key"),
    HeaderName::from_static("x-auth-token"),
    HeaderName::from_static("x-access-token"),
];

/// Headers the HTTP client recomputes for the downstream request.
const RECOMPUTED: [HeaderName; 2] = [header::HOST, header::CONTENT_LENGTH];

/// Whether an incoming header may be copied onto the downstream request.
fn is_forwardable(name: &HeaderName, connection_listed: &[HeaderName]) -> bool {
    // NOTE: `cf-` headers are written by Cloudflare's edge for this hop: the Access JWT
    // (`Cf-Access-Jwt-Assertion`), a client's `Cf-Access-Token`, service-token credentials
    // (`Cf-Access-Client-Id`/`-Secret`), `Cf-Access-Authenticated-User-Email`,
    // `Cf-Connecting-Ip`... The downstream's own Access must derive identity from the one
    // forwarded token only, so none of them may cross.
    !name.as_str().starts_with("cf-")
        && !HOP_BY_HOP.contains(name)
        && !CREDENTIALS.contains(name)
        && !RECOMPUTED.contains(name)
        && !connection_listed.contains(name)
}

/// Header names listed in `Connection`, which are hop-by-hop for this connection only.
fn connection_listed(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect()
}

/// The headers to send downstream: the incoming ones minus hop-by-hop headers and every
/// credential, plus the identity header for the identity's mode.
pub fn downstream_headers(identity: &Identity, incoming: &HeaderMap) -> HeaderMap {
    let listed = connection_listed(incoming);
    let mut headers = HeaderMap::with_capacity(incoming.len() + 1);
    for (name, value) in incoming {
        if is_forwardable(name, &listed) {
            headers.append(name.clone(), value.clone());
        }
    }
    let (name, value) = identity.downstream_header();
    headers.insert(name, value);
    headers
}

/// The headers of a downstream response that may go back to the client.
fn upstream_response_headers(downstream: &HeaderMap) -> HeaderMap {
    let listed = connection_listed(downstream);
    let mut headers = HeaderMap::with_capacity(downstream.len());
    for (name, value) in downstream {
        // A cookie set by the downstream (its own `CF_Authorization` in particular) would
        // land on the proxy's domain and never be sent back downstream: drop it.
        if !HOP_BY_HOP.contains(name) && !listed.contains(name) && name != header::SET_COOKIE {
            headers.append(name.clone(), value.clone());
        }
    }
    headers
}

/// Adds the user's identity to requests the MCP server builds itself.
pub trait ForwardIdentity {
    /// Sets the identity header for the identity's mode (`Cf-Access-Token` or
    /// `Authorization: Bearer`), replacing any value already there.
    #[must_use]
    fn forward_identity(self, identity: &Identity) -> Self;
}

impl ForwardIdentity for reqwest::RequestBuilder {
    fn forward_identity(self, identity: &Identity) -> Self {
        let (name, value) = identity.downstream_header();
        self.header(name, value)
    }
}

/// What [`proxy_router`] forwards to, and how.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    mode: ForwardMode,
    downstream_base: Url,
    client: reqwest::Client,
    body_limit: usize,
}

impl ProxyConfig {
    /// Checks the downstream base URL (http or https, no query or fragment) and builds a
    /// client that does not follow redirects.
    pub fn new(mode: ForwardMode, downstream_base: Url) -> Result<Self, ForwardError> {
        let invalid = |reason| ForwardError::InvalidDownstream {
            url: downstream_base.to_string(),
            reason,
        };
        if !matches!(downstream_base.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https"));
        }
        if downstream_base.cannot_be_a_base() || downstream_base.host().is_none() {
            return Err(invalid("it must be an absolute URL with a host"));
        }
        if downstream_base.query().is_some() || downstream_base.fragment().is_some() {
            return Err(invalid("it must not have a query or fragment"));
        }
        Ok(Self {
            mode,
            downstream_base,
            client: default_client(),
            body_limit: DEFAULT_BODY_LIMIT,
        })
    }

    /// Uses this client for downstream requests.
    ///
    /// It must not follow redirects (`reqwest::redirect::Policy::none()`): reqwest strips
    /// `Authorization` on a cross-host redirect but not `Cf-Access-Token`, so following one
    /// could hand the user's JWT to another host.
    #[must_use]
    pub fn with_client(mut self, client: reqwest::Client) -> Self {
        self.client = client;
        self
    }

    /// Largest request body to buffer; larger requests get 413.
    #[must_use]
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The forwarding mode.
    pub fn mode(&self) -> ForwardMode {
        self.mode
    }

    /// The downstream base URL.
    pub fn downstream_base(&self) -> &Url {
        &self.downstream_base
    }

    /// Downstream URL for an incoming request URI: base path + request path, request query.
    fn downstream_url(&self, uri: &Uri) -> Result<Url, ForwardError> {
        let base_path = self.downstream_base.path().trim_end_matches('/');
        let mut url = self.downstream_base.clone();
        url.set_path(&format!("{base_path}{}", uri.path()));
        url.set_query(uri.query());
        // `set_path` resolves `..`; make sure the result stays under the base path.
        let path = url.path();
        let inside = base_path.is_empty()
            || path == base_path
            || path
                .strip_prefix(base_path)
                .is_some_and(|rest| rest.starts_with('/'));
        if inside {
            Ok(url)
        } else {
            Err(ForwardError::PathOutsideBase)
        }
    }
}

fn default_client() -> reqwest::Client {
    reqwest::Client::builder()
        // NOTE: see `ProxyConfig::with_client`; the client answers the redirect, not us.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .build()
        .expect("a client with rustls and no custom roots builds")
}

/// An axum router that forwards every request (any method and path) to the downstream
/// app with the user's identity, and streams the answer back.
///
/// Requests without a valid identity get 401 and never reach the downstream. Request
/// bodies are buffered up to the configured limit; response bodies are streamed, so
/// server-sent events pass through as they come.
pub fn proxy_router(config: ProxyConfig) -> Router {
    Router::new().fallback(proxy).with_state(Arc::new(config))
}

async fn proxy(State(config): State<Arc<ProxyConfig>>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    match forward(&config, request).await {
        Ok(response) => response,
        Err(error) => {
            // Only the header name and the error kind: never a header value or the query.
            tracing::warn!(
                %method,
                path,
                identity_header = %config.mode.incoming_header(),
                error = error.code(),
                cause = %Causes(&error),
                "refused to forward request: {error}"
            );
            error.into_response()
        }
    }
}

/// The `source()` chain of an error, for logs: `a: b: c`, or empty.
struct Causes<'a>(&'a dyn std::error::Error);

impl fmt::Display for Causes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut source = self.0.source();
        let mut first = true;
        while let Some(cause) = source {
            if !first {
                f.write_str(": ")?;
            }
            write!(f, "{cause}")?;
            first = false;
            source = cause.source();
        }
        Ok(())
    }
}

async fn forward(config: &ProxyConfig, request: Request) -> Result<Response, ForwardError> {
    let (parts, body) = request.into_parts();
    let identity = identity_from_headers(config.mode, &parts.headers)?;
    let url = config.downstream_url(&parts.uri)?;
    let body = read_body(&parts.headers, body, config.body_limit).await?;
    tracing::debug!(
        method = %parts.method,
        path = url.path(),
        identity_header = %config.mode.downstream_header(),
        "forwarding request downstream"
    );
    let response = config
        .client
        .request(parts.method, url)
        .headers(downstream_headers(&identity, &parts.headers))
        .body(body)
        .send()
        .await
        .map_err(|e| ForwardError::Downstream(e.without_url()))?;

    let mut upstream = Response::builder().status(response.status());
    if let Some(headers) = upstream.headers_mut() {
        *headers = upstream_response_headers(response.headers());
    }
    Ok(upstream
        .body(stream_body(response))
        .expect("status and headers come from a valid response"))
}

/// Reads the whole request body, refusing more than `limit` bytes.
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ForwardError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ForwardError::BodyTooLarge { limit });
    }
    let mut stream = body.into_data_stream();
    let mut buffer = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(ForwardError::RequestBody)?;
        if buffer.len() + chunk.len() > limit {
            return Err(ForwardError::BodyTooLarge { limit });
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buffer))
}

/// The downstream response body as a stream of chunks, passed on as they arrive.
fn stream_body(response: reqwest::Response) -> Body {
    let chunks = futures::stream::unfold(Some(response), |state| async move {
        let mut response = state?;
        match response.chunk().await {
            Ok(Some(chunk)) => Some((Ok(chunk), Some(response))),
            Ok(None) => None,
            Err(error) => Some((Err(error.without_url()), None)),
        }
    });
    Body::from_stream(chunks)
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl";

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn jwt_shape() {
        assert!(looks_like_jwt(JWT));
        assert!(!looks_like_jwt("abc.def"));
        assert!(!looks_like_jwt("a.b.c.d"));
        assert!(!looks_like_jwt("a..c"));
        assert!(!looks_like_jwt("a.b+/.c"));
        assert!(!looks_like_jwt("a.b.c="));
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        let h = headers(&[("authorization", &format!("bearer {JWT}"))]);
        let id = identity_from_headers(ForwardMode::OidcSaas, &h).unwrap();
        assert_eq!(id.token().expose_secret(), JWT);
    }

    #[test]
    fn duplicate_identity_headers_are_refused() {
        let mut h = headers(&[("cf-access-jwt-assertion", JWT)]);
        h.append(CF_ACCESS_JWT_ASSERTION, HeaderValue::from_static(JWT));
        assert!(matches!(
            identity_from_headers(ForwardMode::SelfHosted, &h),
            Err(ForwardError::AmbiguousIdentity { .. })
        ));
    }

    #[test]
    fn connection_listed_headers_are_dropped() {
        let h = headers(&[
            ("connection", "x-hop, keep-alive"),
            ("x-hop", "1"),
            ("x-kept", "2"),
        ]);
        let id = Identity::new(ForwardMode::SelfHosted, JWT.into()).unwrap();
        let out = downstream_headers(&id, &h);
        assert!(out.get("x-hop").is_none());
        assert!(out.get("connection").is_none());
        assert_eq!(out["x-kept"], "2");
    }

    #[test]
    fn downstream_url_stays_under_base() {
        let config = ProxyConfig::new(
            ForwardMode::SelfHosted,
            Url::parse("http://internal.example/api/").unwrap(),
        )
        .unwrap();
        let ok = config
            .downstream_url(&"/v1/items?x=1&y=%20".parse().unwrap())
            .unwrap();
        assert_eq!(
            ok.as_str(),
            "http://internal.example/api/v1/items?x=1&y=%20"
        );
        assert!(matches!(
            config.downstream_url(&"/../admin".parse().unwrap()),
            Err(ForwardError::PathOutsideBase)
        ));
        assert!(matches!(
            config.downstream_url(&"/%2e%2e/admin".parse().unwrap()),
            Err(ForwardError::PathOutsideBase)
        ));
    }

    #[test]
    fn invalid_downstream_base_is_rejected() {
        for url in ["ftp://h/", "http://h/?q=1", "http://h/#f"] {
            assert!(
                ProxyConfig::new(ForwardMode::OidcSaas, Url::parse(url).unwrap()).is_err(),
                "{url}"
            );
        }
    }
}
