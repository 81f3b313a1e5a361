//! End-to-end tests of identity forwarding: a client (reqwest) calls the proxy
//! (`proxy_router` on 127.0.0.1:0), which calls a fake downstream app that records every
//! request it receives.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mcp_access::forward::{
    ForwardError, ForwardIdentity as _, ForwardMode, Identity, ProxyConfig, downstream_headers,
    identity_from_headers, proxy_router,
};
use reqwest::Url;
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// A token shaped like an Access JWT; every test uses its own so leaks can't be confused.
fn jwt(subject: &str) -> String {
    format!("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ{subject}In0.c2lnLXtoken-{subject}_sig")
}

async fn within<F: Future>(test: F) -> F::Output {
    captured_logs();
    tokio::time::timeout(Duration::from_secs(10), test)
        .await
        .expect("test timed out")
}

async fn serve(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// One request as the downstream app saw it.
#[derive(Debug, Clone)]
struct Recorded {
    method: Method,
    path_and_query: String,
    headers: HeaderMap,
    body: Bytes,
}

/// A fake downstream app on 127.0.0.1:0 that records what it receives.
///
/// `/redirect` answers 302 to `redirect_to`; `/stream` sends `first` then waits for
/// `release` before sending `second`; everything else answers 201 with a fixed body.
#[derive(Clone)]
struct Downstream {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Recorded>>>,
    release: Arc<Notify>,
}

#[derive(Clone)]
struct DownstreamState {
    received: Arc<Mutex<Vec<Recorded>>>,
    release: Arc<Notify>,
    redirect_to: Option<String>,
}

impl Downstream {
    async fn start() -> Self {
        Self::start_redirecting_to(None).await
    }

    async fn start_redirecting_to(redirect_to: Option<String>) -> Self {
        let state = DownstreamState {
            received: Arc::default(),
            release: Arc::new(Notify::new()),
            redirect_to,
        };
        let received = state.received.clone();
        let release = state.release.clone();
        let addr = serve(Router::new().fallback(answer).with_state(state)).await;
        Self {
            addr,
            received,
            release,
        }
    }

    fn base(&self) -> Url {
        Url::parse(&format!("http://{}/", self.addr)).unwrap()
    }

    fn received(&self) -> Vec<Recorded> {
        self.received.lock().unwrap().clone()
    }

    fn only_request(&self) -> Recorded {
        let mut received = self.received();
        assert_eq!(received.len(), 1, "downstream received {received:?}");
        received.remove(0)
    }
}

async fn answer(State(state): State<DownstreamState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    state.received.lock().unwrap().push(Recorded {
        method: parts.method.clone(),
        path_and_query: parts.uri.path_and_query().unwrap().to_string(),
        headers: parts.headers,
        body,
    });
    match parts.uri.path() {
        "/redirect" => (
            StatusCode::FOUND,
            [(header::LOCATION, state.redirect_to.unwrap())],
        )
            .into_response(),
        "/stream" => {
            let release = state.release.clone();
            let chunks = futures::stream::unfold(0, move |step| {
                let release = release.clone();
                async move {
                    match step {
                        0 => Some((Ok::<_, io::Error>(Bytes::from("first\n")), 1)),
                        1 => {
                            release.notified().await;
                            Some((Ok(Bytes::from("second\n")), 2))
                        }
                        _ => None,
                    }
                }
            });
            Body::from_stream(chunks).into_response()
        }
        path => (
            StatusCode::CREATED,
            [
                ("x-downstream", "yes"),
                ("set-cookie", "CF_Authorization=downstream-cookie"),
            ],
            format!("downstream answered {} {path}", parts.method),
        )
            .into_response(),
    }
}

async fn start_proxy(mode: ForwardMode, downstream: Url) -> SocketAddr {
    serve(proxy_router(ProxyConfig::new(mode, downstream).unwrap())).await
}

/// Sends `GET path` exactly as given and returns the status line.
async fn raw_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (name, value) in headers {
        request.extend([name, ": ", value, "\r\n"]);
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response.lines().next().unwrap_or_default().to_owned()
}

/// A client that shows redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn identity_header(mode: ForwardMode, token: &str) -> (&'static str, String) {
    match mode {
        ForwardMode::SelfHosted => ("cf-access-jwt-assertion", token.to_owned()),
        ForwardMode::OidcSaas => ("authorization", format!("Bearer {token}")),
    }
}

#[tokio::test]
async fn self_hosted_copies_the_jwt_into_cf_access_token() {
    within(async {
        let downstream = Downstream::start().await;
        let proxy = start_proxy(ForwardMode::SelfHosted, downstream.base()).await;
        let token = jwt("selfhosted");

        let response = client()
            .get(format!("http://{proxy}/mcp"))
            .header("cf-access-jwt-assertion", &token)
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), StatusCode::CREATED);
        let seen = downstream.only_request();
        assert_eq!(seen.headers["cf-access-token"], token.as_str());
        assert!(seen.headers.get("cf-access-jwt-assertion").is_none());
        assert!(seen.headers.get("authorization").is_none());
    })
    .await;
}

#[tokio::test]
async fn oidc_saas_forwards_the_bearer_token() {
    within(async {
        let downstream = Downstream::start().await;
        let proxy = start_proxy(ForwardMode::OidcSaas, downstream.base()).await;
        let token = jwt("saas");

        let response = client()
            .get(format!("http://{proxy}/mcp"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), StatusCode::CREATED);
        let seen = downstream.only_request();
        assert_eq!(seen.headers["authorization"], format!("Bearer {token}"));
        assert_eq!(seen.headers.get_all("authorization").iter().count(), 1);
        assert!(seen.headers.get("cf-access-token").is_none());
    })
    .await;
}

#[tokio::test]
async fn other_credentials_and_hop_by_hop_headers_never_reach_the_downstream() {
    for mode in [ForwardMode::SelfHosted, ForwardMode::OidcSaas] {
        within(async {
            let downstream = Downstream::start().await;
            let proxy = start_proxy(mode, downstream.base()).await;
            let token = jwt("credentials");
            let other_jwt = jwt("someoneelse");
            let (name, value) = identity_header(mode, &token);

            let mut request = client()
                .post(format!("http://{proxy}/tools/call"))
                .header(name, value)
                .header(
                    "cookie",
                    "CF_Authorization=cookie-secret-1; session=cookie-secret-2",
                )
                .header("cookie", "CF_AppSession=cookie-secret-3")
                .header("cf-access-client-id", "svc-secret-id")
                .header("cf-access-client-secret", "svc-secret-value")
                .header("cf-access-authenticated-user-email", "spoofed@example.com")
                .header("proxy-authorization", "Basic cHJveHk6c2VjcmV0")
                .header("x-api-key", "api-key-secret")
                .header("connection", "x-hop-secret")
                .header("x-hop-secret", "hop-secret")
                .header("keep-alive", "timeout=5")
                .header("x-request-id", "req-1")
                .header("accept", "application/json, text/event-stream");
            request = match mode {
                ForwardMode::SelfHosted => request
                    .header("authorization", "Basic dXNlcjpwYXNzd29yZA==")
                    .header("cf-access-token", &other_jwt),
                ForwardMode::OidcSaas => request
                    .header("cf-access-jwt-assertion", &other_jwt)
                    .header("cf-access-token", &other_jwt),
            };
            let response = request.body("{}").send().await.unwrap();
            assert_eq!(response.status(), StatusCode::CREATED, "{mode}");

            let seen = downstream.only_request();
            for absent in [
                "cookie",
                "cf-access-client-id",
                "cf-access-client-secret",
                "cf-access-authenticated-user-email",
                "cf-access-jwt-assertion",
                "proxy-authorization",
                "x-api-key",
                "x-hop-secret",
                "keep-alive",
            ] {
                assert!(
                    seen.headers.get(absent).is_none(),
                    "{mode}: {absent} leaked"
                );
            }
            for (name, value) in &seen.headers {
                let value = value.to_str().unwrap();
                for secret in [
                    "secret",
                    "CF_Authorization",
                    "dXNlcjpwYXNzd29yZA",
                    &other_jwt,
                ] {
                    assert!(
                        !value.contains(secret),
                        "{mode}: {name}: {value} carries {secret}"
                    );
                }
            }
            match mode {
                ForwardMode::SelfHosted => {
                    assert_eq!(seen.headers["cf-access-token"], token.as_str());
                    assert!(seen.headers.get("authorization").is_none());
                }
                ForwardMode::OidcSaas => {
                    assert_eq!(seen.headers["authorization"], format!("Bearer {token}"));
                    assert!(seen.headers.get("cf-access-token").is_none());
                }
            }
            // Ordinary headers still pass.
            assert_eq!(seen.headers["x-request-id"], "req-1");
            assert_eq!(
                seen.headers["accept"],
                "application/json, text/event-stream"
            );
        })
        .await;
    }
}

#[tokio::test]
async fn a_request_without_identity_gets_401_and_never_reaches_the_downstream() {
    for mode in [ForwardMode::SelfHosted, ForwardMode::OidcSaas] {
        within(async {
            let downstream = Downstream::start().await;
            let proxy = start_proxy(mode, downstream.base()).await;

            // A CF_Authorization cookie alone is not an identity to forward.
            let response = client()
                .post(format!("http://{proxy}/mcp"))
                .header("cookie", format!("CF_Authorization={}", jwt("cookie")))
                .body("{}")
                .send()
                .await
                .unwrap();

            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{mode}");
            assert_eq!(
                response.headers().contains_key(header::WWW_AUTHENTICATE),
                mode == ForwardMode::OidcSaas,
                "{mode}"
            );
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["error"], "missing_identity", "{mode}");
            let message = body["message"].as_str().unwrap();
            assert!(
                message.contains(mode.incoming_header().as_str()),
                "{message}"
            );
            assert!(downstream.received().is_empty(), "{mode}");
        })
        .await;
    }
}

#[tokio::test]
async fn a_malformed_identity_gets_401_and_never_reaches_the_downstream() {
    let token = jwt("malformed");
    let cases: Vec<(ForwardMode, Vec<String>, &str)> = vec![
        (
            ForwardMode::SelfHosted,
            vec![String::new()],
            "empty_identity",
        ),
        (
            ForwardMode::SelfHosted,
            vec!["not-a-jwt".into()],
            "malformed_token",
        ),
        (
            ForwardMode::SelfHosted,
            vec!["aaa.bbb".into()],
            "malformed_token",
        ),
        (
            ForwardMode::SelfHosted,
            vec!["a.b.c.d".into()],
            "malformed_token",
        ),
        (
            ForwardMode::SelfHosted,
            vec!["aa.b+b/.cc".into()],
            "malformed_token",
        ),
        (
            ForwardMode::SelfHosted,
            vec![format!("Bearer {token}")],
            "malformed_token",
        ),
        (
            ForwardMode::SelfHosted,
            vec![token.clone(), jwt("second")],
            "ambiguous_identity",
        ),
        (ForwardMode::OidcSaas, vec![String::new()], "empty_identity"),
        (ForwardMode::OidcSaas, vec![token.clone()], "not_bearer"),
        (
            ForwardMode::OidcSaas,
            vec!["Basic dXNlcjpwYXNz".into()],
            "not_bearer",
        ),
        (
            ForwardMode::OidcSaas,
            vec![format!("Token {token}")],
            "not_bearer",
        ),
        (ForwardMode::OidcSaas, vec!["Bearer".into()], "not_bearer"),
        (
            ForwardMode::OidcSaas,
            vec!["Bearer opaque-token".into()],
            "malformed_token",
        ),
        (
            ForwardMode::OidcSaas,
            vec![format!("Bearer {token} extra")],
            "malformed_token",
        ),
        (
            ForwardMode::OidcSaas,
            vec![format!("Bearer {token}"), format!("Bearer {token}")],
            "ambiguous_identity",
        ),
    ];
    for (mode, values, code) in cases {
        within(async {
            let downstream = Downstream::start().await;
            let proxy = start_proxy(mode, downstream.base()).await;
            let mut request = client().get(format!("http://{proxy}/mcp"));
            for value in &values {
                request = request.header(mode.incoming_header(), value);
            }

            let response = request.send().await.unwrap();

            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{mode} {values:?}"
            );
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["error"], code, "{mode} {values:?}");
            assert!(
                !body.to_string().contains(&token),
                "the error body echoes the token"
            );
            assert!(downstream.received().is_empty(), "{mode} {values:?}");
        })
        .await;
    }
}

#[tokio::test]
async fn method_path_query_and_body_go_down_and_status_headers_and_body_come_back() {
    within(async {
        let downstream = Downstream::start().await;
        let proxy = start_proxy(ForwardMode::SelfHosted, downstream.base()).await;

        let response = client()
            .put(format!("http://{proxy}/v1/items/42?dry_run=1&q=a%20b"))
            .header("cf-access-jwt-assertion", jwt("roundtrip"))
            .header("content-type", "application/json")
            .body(r#"{"name":"widget"}"#)
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()["x-downstream"], "yes");
        assert!(
            response.headers().get("set-cookie").is_none(),
            "a downstream cookie must not be set on the proxy's domain"
        );
        assert_eq!(
            response.text().await.unwrap(),
            "downstream answered PUT /v1/items/42"
        );
        let seen = downstream.only_request();
        assert_eq!(seen.method, Method::PUT);
        assert_eq!(seen.path_and_query, "/v1/items/42?dry_run=1&q=a%20b");
        assert_eq!(seen.headers["content-type"], "application/json");
        assert_eq!(seen.body, r#"{"name":"widget"}"#);
    })
    .await;
}

#[tokio::test]
async fn requests_go_under_the_downstream_base_path_and_cannot_leave_it() {
    within(async {
        let downstream = Downstream::start().await;
        let base = Url::parse(&format!("http://{}/internal-api/", downstream.addr)).unwrap();
        let proxy = start_proxy(ForwardMode::OidcSaas, base).await;

        let response = client()
            .delete(format!("http://{proxy}/v1/items/7"))
            .bearer_auth(jwt("base"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(
            downstream.only_request().path_and_query,
            "/internal-api/v1/items/7"
        );

        // reqwest would normalise `..` away, so speak HTTP by hand.
        for path in ["/../admin", "/%2e%2e/admin", "/v1/../../admin"] {
            let status = raw_get(
                proxy,
                path,
                &[("authorization", &format!("Bearer {}", jwt("base")))],
            )
            .await;
            assert!(status.starts_with("HTTP/1.1 400"), "{path}: {status}");
        }
        assert_eq!(downstream.received().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn the_response_body_is_streamed_back_as_it_arrives() {
    within(async {
        let downstream = Downstream::start().await;
        let proxy = start_proxy(ForwardMode::SelfHosted, downstream.base()).await;

        let mut response = client()
            .get(format!("http://{proxy}/stream"))
            .header("cf-access-jwt-assertion", jwt("stream"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);

        // The downstream holds the second chunk back until released: the first one must
        // already be here.
        assert_eq!(response.chunk().await.unwrap().unwrap(), "first\n");
        downstream.release.notify_one();
        let mut rest = Vec::new();
        while let Some(chunk) = response.chunk().await.unwrap() {
            rest.extend_from_slice(&chunk);
        }
        assert_eq!(rest, b"second\n");
    })
    .await;
}

#[tokio::test]
async fn redirects_are_returned_to_the_client_not_followed_with_the_token() {
    within(async {
        let elsewhere = Downstream::start().await;
        let downstream =
            Downstream::start_redirecting_to(Some(format!("http://{}/stolen", elsewhere.addr)))
                .await;
        let proxy = start_proxy(ForwardMode::SelfHosted, downstream.base()).await;

        let response = client()
            .get(format!("http://{proxy}/redirect"))
            .header("cf-access-jwt-assertion", jwt("redirect"))
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), StatusCode::FOUND);
        assert_eq!(
            response.headers()["location"],
            format!("http://{}/stolen", elsewhere.addr).as_str()
        );
        assert_eq!(downstream.received().len(), 1);
        assert!(elsewhere.received().is_empty());
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_downstream_gives_502() {
    within(async {
        let closed = {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.local_addr().unwrap()
        };
        let base = Url::parse(&format!("http://{closed}/")).unwrap();
        let proxy = start_proxy(ForwardMode::SelfHosted, base).await;

        let response = client()
            .get(format!("http://{proxy}/mcp"))
            .header("cf-access-jwt-assertion", jwt("unreachable"))
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], "downstream_unavailable");
    })
    .await;
}

#[tokio::test]
async fn an_oversized_body_gets_413_and_never_reaches_the_downstream() {
    within(async {
        let downstream = Downstream::start().await;
        let config = ProxyConfig::new(ForwardMode::SelfHosted, downstream.base())
            .unwrap()
            .with_body_limit(16);
        let proxy = serve(proxy_router(config)).await;

        let response = client()
            .post(format!("http://{proxy}/upload"))
            .header("cf-access-jwt-assertion", jwt("large"))
            .body("x".repeat(17))
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(downstream.received().is_empty());
    })
    .await;
}

/// A tracing writer over a shared buffer.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test binary, at TRACE for every crate (reqwest and hyper
/// included). A global subscriber, not a per-test one: tracing caches per-callsite
/// interest, which makes thread-local subscribers miss events when tests run in parallel.
fn captured_logs() -> &'static LogBuffer {
    static LOGS: OnceLock<LogBuffer> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = LogBuffer::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        logs
    })
}

impl LogBuffer {
    fn contents(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[tokio::test]
async fn tokens_never_appear_in_logs() {
    let self_hosted = jwt("logselfhosted");
    let saas = jwt("logsaas");
    let malformed = "malformed-secret-value";
    within(async {
        let downstream = Downstream::start().await;
        let hosted_proxy = start_proxy(ForwardMode::SelfHosted, downstream.base()).await;
        let saas_proxy = start_proxy(ForwardMode::OidcSaas, downstream.base()).await;
        let client = client();

        let ok = client
            .get(format!("http://{hosted_proxy}/mcp"))
            .header("cf-access-jwt-assertion", &self_hosted)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), StatusCode::CREATED);
        let ok = client
            .get(format!("http://{saas_proxy}/mcp"))
            .bearer_auth(&saas)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), StatusCode::CREATED);
        let refused = client
            .get(format!("http://{hosted_proxy}/mcp"))
            .header("cf-access-jwt-assertion", malformed)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        let refused = client
            .get(format!("http://{saas_proxy}/mcp"))
            .header("authorization", format!("Basic {malformed}"))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    })
    .await;

    let logs = captured_logs().contents();
    // The capture works, and names headers...
    assert!(logs.contains("forwarding request downstream"), "{logs}");
    assert!(logs.contains("refused to forward request"), "{logs}");
    assert!(logs.contains("cf-access-jwt-assertion"), "{logs}");
    // ...but never their values.
    for secret in [
        self_hosted.as_str(),
        saas.as_str(),
        "token-logselfhosted_sig",
        "token-logsaas_sig",
        malformed,
    ] {
        assert!(!logs.contains(secret), "{secret} logged:\n{logs}");
    }
}

#[test]
fn debug_output_never_shows_the_token() {
    let token = jwt("debug");
    let mut incoming = HeaderMap::new();
    incoming.insert(
        "cf-access-jwt-assertion",
        HeaderValue::from_str(&token).unwrap(),
    );
    let identity = identity_from_headers(ForwardMode::SelfHosted, &incoming).unwrap();

    let debug = format!("{identity:?}");
    assert!(debug.contains("(redacted)"), "{debug}");
    assert!(!debug.contains(&token), "{debug}");
    assert!(!debug.contains("token-debug_sig"), "{debug}");

    let outgoing = downstream_headers(&identity, &incoming);
    let debug = format!("{outgoing:?}");
    assert!(debug.contains("cf-access-token"), "{debug}");
    assert!(!debug.contains(&token), "{debug}");

    let (_, value) = identity.downstream_header();
    assert!(value.is_sensitive());

    let error = Identity::new(
        ForwardMode::OidcSaas,
        SecretString::from("opaque-debug-secret"),
    )
    .unwrap_err();
    assert!(matches!(error, ForwardError::MalformedToken { .. }));
    for shown in [format!("{error:?}"), error.to_string()] {
        assert!(!shown.contains("opaque-debug-secret"), "{shown}");
    }
}

#[tokio::test]
async fn forward_identity_sets_the_header_on_requests_the_mcp_server_builds() {
    within(async {
        let downstream = Downstream::start().await;
        let token = jwt("builder");
        let identity =
            Identity::new(ForwardMode::OidcSaas, SecretString::from(token.as_str())).unwrap();

        client()
            .get(downstream.base().join("wiki/page").unwrap())
            .forward_identity(&identity)
            .send()
            .await
            .unwrap();

        let seen = downstream.only_request();
        assert_eq!(seen.headers["authorization"], format!("Bearer {token}"));
    })
    .await;
}
