//! Where a notification goes: a webhook URL and the format it takes. The URL's path
//! and query are treated as secrets (a Slack webhook URL is its own credential): what
//! is shown of a target is only its scheme and host.

use clap::ValueEnum;
use reqwest::Url;
use serde::{Deserialize, Serialize};

/// The body a target receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The generic JSON event (`schema/event.schema.json`).
    #[default]
    Json,
    /// Slack's incoming-webhook message (`text` and `blocks`).
    Slack,
}

impl Format {
    /// `json` or `slack`, as the flag and the config file spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Slack => "slack",
        }
    }
}

/// A webhook and its format. `Debug` and [`Target::redacted`] show no path.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    url: Url,
    /// The body it receives.
    pub format: Format,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target({} as {})", self.redacted(), self.format.as_str())
    }
}

impl Target {
    /// Checks a webhook URL: `http` or `https`, with a host. The error never quotes the
    /// URL's path or query.
    pub fn parse(url: &str, format: Format) -> Result<Self, String> {
        let url = Url::parse(url.trim()).map_err(|e| {
            format!(
                "notification URL {} is not a valid URL: {e}",
                redact_text(url)
            )
        })?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(format!(
                "notification URL {}: use an https:// URL (http:// for a local receiver)",
                redacted(&url)
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("notification URL {} has no host", redacted(&url)));
        }
        Ok(Self { url, format })
    }

    /// The URL, secret parts included: for sending only.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// `https://hooks.slack.com/…`: scheme, host and port; `/…` stands for a path or
    /// query left out.
    pub fn redacted(&self) -> String {
        redacted(&self.url)
    }

    /// The parts of the URL that must never reach a log: the whole URL, its path and
    /// query, and a password. For the log redactor, as a second line of defence.
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets = vec![self.url.to_string()];
        let mut rest = self.url.path().to_owned();
        if let Some(query) = self.url.query() {
            rest.push('?');
            rest.push_str(query);
        }
        if rest != "/" {
            secrets.push(rest);
        }
        if let Some(password) = self.url.password() {
            secrets.push(password.to_owned());
        }
        secrets
    }
}

/// Scheme, host and port of `url`, with `/…` when it has more.
fn redacted(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let more = url.path() != "/" || url.query().is_some() || url.fragment().is_some();
    format!(
        "{}://{host}{port}{}",
        url.scheme(),
        if more { "/…" } else { "" }
    )
}

/// A URL that did not parse, cut before its path.
fn redact_text(text: &str) -> String {
    let text = text.trim();
    let after_scheme = text.find("://").map_or(0, |i| i + 3);
    match text[after_scheme..].find(['/', '?', '#']) {
        Some(i) => format!("{}/…", &text[..after_scheme + i]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_and_query_never_show() {
        let t = Target::parse(
            "https://hooks.slack.com/services/T000/B000/XXXXsecret",
            Format::Slack,
        )
        .unwrap();
        assert_eq!(t.redacted(), "https://hooks.slack.com/…");
        assert!(!format!("{t:?}").contains("XXXX"));
        assert!(
            t.secrets()
                .contains(&"/services/T000/B000/XXXXsecret".to_owned())
        );
        let local = Target::parse("http://127.0.0.1:8080", Format::Json).unwrap();
        assert_eq!(local.redacted(), "http://127.0.0.1:8080");
        assert_eq!(local.secrets(), ["http://127.0.0.1:8080/"]);
        let q = Target::parse("https://x.example.com/?token=abcd", Format::Json).unwrap();
        assert_eq!(q.redacted(), "https://x.example.com/…");
        assert!(q.secrets().contains(&"/?token=abcd".to_owned()));
    }

    #[test]
    fn bad_urls_are_refused_without_their_path() {
        let e = Target::parse("ftp://x.example.com/secret-path", Format::Json).unwrap_err();
        assert!(e.contains("https://") && !e.contains("secret-path"), "{e}");
        let e = Target::parse("hooks.slack.com/services/secret", Format::Json).unwrap_err();
        assert!(!e.contains("secret"), "{e}");
        let e = Target::parse("https://exa mple.com/secret", Format::Json).unwrap_err();
        assert!(!e.contains("secret"), "{e}");
    }
}
