//! An [`Event`] as a Slack incoming-webhook message: `text` (the notification and
//! fallback line) and `blocks` (a header line, the changes or the error, and a context
//! line), within Slack's limits.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::event::{Cause, Event, Kind};
use crate::plan::json::Action;

/// Slack's limit on a section's text is 3,000 characters; stay under it.
const SECTION_LIMIT: usize = 2_900;

/// Changes listed in the message; the rest are counted.
const MAX_LINES: usize = 20;

/// The message body for `event`.
pub fn render(event: &Event) -> Value {
    let icon = match event.kind {
        Kind::DriftRepaired => ":wrench:",
        Kind::DriftDetected => ":eyes:",
        Kind::ReconcileFailing => ":rotating_light:",
        Kind::Recovered => ":white_check_mark:",
    };
    let mut blocks = vec![section(&format!("{icon} *{}*", escape(&event.summary)))];
    if let Some(drift) = &event.drift {
        let mut text = String::new();
        let by = match drift.cause {
            Cause::Account => format!("Changed in the account by: {}", escape(&drift.by)),
            Cause::Manifest => "The manifest changed since the last reconcile.".to_owned(),
            Cause::Unknown => "First reconcile since the controller started.".to_owned(),
        };
        let _ = writeln!(text, "{by}");
        for action in drift.changes.iter().take(MAX_LINES) {
            let _ = writeln!(text, "• {}", line(action));
        }
        let more = drift
            .counts
            .total
            .saturating_sub(MAX_LINES.min(drift.changes.len()));
        if more > 0 {
            let _ = writeln!(text, "… and {more} more");
        }
        if let Some(refused) = &drift.refused {
            let _ = writeln!(text, "Heal mode would refuse: {}", escape(refused));
        }
        blocks.push(section(&text));
    }
    if let Some(failure) = &event.failure {
        blocks.push(section(&format!(
            "Result `{}` since {}:\n```{}```",
            escape(&failure.result),
            escape(&failure.since),
            escape(&failure.error).replace("```", "'''")
        )));
    }
    let c = &event.controller;
    let mut context = format!("mcp-access {} · {} mode", escape(&c.version), c.mode);
    if let Some(owner) = &c.owner {
        let _ = write!(context, " · owner `{}`", escape(owner));
    }
    if let Some(account) = &c.account_id {
        let _ = write!(context, " · account `{}`", escape(account));
    }
    let _ = write!(context, " · {}", event.time);
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": cut(&context)}]
    }));
    json!({
        "text": event.summary,
        "blocks": blocks,
    })
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(text.trim_end())}})
}

fn line(action: &Action) -> String {
    let name = |v: &crate::plan::AppView| {
        if v.name.is_empty() {
            format!("`{}`", escape(&v.uid))
        } else {
            format!("`{}`", escape(&v.name))
        }
    };
    match action {
        Action::Convert {
            app, policy_name, ..
        } => format!(
            "convert legacy policy `{}` on {} to reusable",
            escape(policy_name),
            name(app)
        ),
        Action::Adopt {
            server,
            policy_name,
            ..
        } => format!(
            "adopt `{}` as the policy of {}",
            escape(policy_name),
            name(server)
        ),
        Action::Create { server, .. } => format!("create the policy of {}", name(server)),
        Action::Update { server, .. } => format!("put back the policy of {}", name(server)),
        Action::Attach { app, server, .. } => {
            format!("attach {} → {}", name(server), name(app))
        }
        Action::Detach {
            app,
            policy_name,
            reason,
            ..
        } => format!(
            "detach `{}` from {} ({})",
            escape(policy_name),
            name(app),
            escape(reason)
        ),
        Action::Delete {
            policy_name,
            reason,
            ..
        } => format!("delete `{}` ({})", escape(policy_name), escape(reason)),
    }
}

/// Text Slack shows as written: its three control characters escaped.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// At most [`SECTION_LIMIT`] characters, cut on a character boundary.
fn cut(s: &str) -> String {
    if s.chars().count() <= SECTION_LIMIT {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(SECTION_LIMIT - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::event::Source;

    fn source() -> Source {
        Source {
            owner: Some("platform".into()),
            account_id: None,
            mode: "heal".into(),
            version: "0.1.0".into(),
        }
    }

    #[test]
    fn a_failure_is_a_summary_an_error_block_and_context_within_limits() {
        let at = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        let error = format!("<boom> & {}", "x".repeat(10_000));
        let event = Event::failing("api_error", &error, 3, at, at, source());
        let body = render(&event);
        assert_eq!(body["text"], event.summary);
        let blocks = body["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), 3);
        let error_block = blocks[1]["text"]["text"].as_str().unwrap();
        assert!(error_block.contains("&lt;boom&gt; &amp;"), "{error_block}");
        assert!(error_block.chars().count() <= SECTION_LIMIT);
        assert_eq!(blocks[2]["type"], "context");
        let context = blocks[2]["elements"][0]["text"].as_str().unwrap();
        assert!(context.contains("owner `platform`") && context.contains("heal mode"));
    }
}
