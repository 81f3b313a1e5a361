//! The controller's settings file (`run --config FILE`), YAML, for what is awkward or
//! secret on a command line: the notification targets. `${VAR}` is expanded in every
//! string, so a webhook URL can come from a Kubernetes Secret through the environment.
//!
//! ```yaml
//! notify:
//!   after: 3                    # failures in a row before `reconcile_failing`
//!   targets:
//!     - url: ${SLACK_WEBHOOK_URL}
//!       format: slack           # or json (the default)
//!     - url: https://events.example.com/mcp-access
//! ```

use std::path::Path;

use serde::Deserialize;

use crate::notify::{Format, Target};

/// What a settings file sets, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsFile {
    /// `notify.targets`.
    pub targets: Vec<Target>,
    /// `notify.after`.
    pub after: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    notify: Option<RawNotify>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotify {
    #[serde(default)]
    after: Option<u32>,
    #[serde(default)]
    targets: Vec<RawTarget>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    url: String,
    #[serde(default)]
    format: Format,
}

/// Largest settings file read; a real one is a few lines.
const MAX_BYTES: u64 = 64 * 1024;

impl SettingsFile {
    /// Reads and validates the file at `path`; `env` expands `${VAR}`. Errors start with
    /// the path and never quote a URL's path.
    pub fn read(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        use std::io::Read;
        let shown = path.display();
        let mut text = String::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_BYTES + 1).read_to_string(&mut text))
            .map_err(|e| format!("cannot read --config {shown}: {e}"))?;
        if text.len() as u64 > MAX_BYTES {
            return Err(format!(
                "--config {shown}: larger than {MAX_BYTES} bytes; a settings file is a few lines"
            ));
        }
        Self::parse(&text, env).map_err(|e| format!("--config {shown}: {e}"))
    }

    /// [`Self::read`] on text.
    pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        let json = crate::manifest::yaml_to_json(text, env)?;
        let raw: Raw = match json {
            serde_json::Value::Null => return Ok(Self::default()),
            json => serde_json::from_value(json).map_err(|e| e.to_string())?,
        };
        let Some(notify) = raw.notify else {
            return Ok(Self::default());
        };
        if notify.after == Some(0) {
            return Err("notify.after must be at least 1".to_owned());
        }
        let targets = notify
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| {
                Target::parse(&t.url, t.format).map_err(|e| format!("notify.targets[{i}]: {e}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            targets,
            after: notify.after,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "SLACK_WEBHOOK_URL")
            .then(|| "https://hooks.slack.com/services/T0/B0/secretpath".to_owned())
    }

    #[test]
    fn the_documented_example_reads() {
        let text = "notify:\n  after: 5\n  targets:\n    - url: ${SLACK_WEBHOOK_URL}\n      format: slack\n    - url: https://events.example.com/mcp-access\n";
        let file = SettingsFile::parse(text, &env).unwrap();
        assert_eq!(file.after, Some(5));
        assert_eq!(file.targets.len(), 2);
        assert_eq!(file.targets[0].format, Format::Slack);
        assert_eq!(file.targets[1].format, Format::Json);
        assert_eq!(file.targets[0].redacted(), "https://hooks.slack.com/…");
        assert_eq!(
            SettingsFile::parse("", &env).unwrap(),
            SettingsFile::default()
        );
    }

    #[test]
    fn mistakes_are_named_without_secrets() {
        let typo = SettingsFile::parse("notify:\n  targts: []\n", &env).unwrap_err();
        assert!(typo.contains("unknown field `targts`"), "{typo}");
        let format = SettingsFile::parse(
            "notify:\n  targets:\n    - url: ${SLACK_WEBHOOK_URL}\n      format: teams\n",
            &env,
        )
        .unwrap_err();
        assert!(
            format.contains("teams") && !format.contains("secretpath"),
            "{format}"
        );
        let scheme = SettingsFile::parse(
            "notify:\n  targets:\n    - url: ftp://x.example.com/secretpath\n",
            &env,
        )
        .unwrap_err();
        assert!(
            scheme.contains("targets[0]") && !scheme.contains("secretpath"),
            "{scheme}"
        );
        let unset =
            SettingsFile::parse("notify:\n  targets:\n    - url: ${NOPE}\n", &env).unwrap_err();
        assert!(unset.contains("`NOPE` is not set"), "{unset}");
        assert!(SettingsFile::parse("notify:\n  after: 0\n", &env).is_err());
    }
}
