//! Self-contained HTML pages: one document with its CSS and JavaScript inline and no
//! external resource, so it works opened from disk, attached to a ticket, or served by
//! the controller. These are the building blocks both pages share (the `check` report
//! in `check::html`, the controller's status page in `controller::status`): the page
//! shell with its Content-Security-Policy ([`page`]), escaping ([`text`], [`json`]),
//! and the access view ([`access`]): summary, filters, matrix, list and graph of who
//! can reach what.

pub mod access;
pub mod page;

pub use page::{Document, Meta};

/// `s` escaped for HTML text and attribute values (double-quoted).
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `value` as JSON that is safe inside `<script type="application/json">`: `<`, `>`
/// and `&` are written as `\u003c`, `\u003e` and `\u0026` (still the same JSON), so no
/// string in it can close the element or open a comment.
pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    let raw = serde_json::to_string(value).expect("plain data serialises");
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            // Valid JSON, but line separators end a line in older JavaScript parsers.
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cannot_open_a_tag_or_end_an_attribute() {
        assert_eq!(
            text(r#"<img src=x onerror="a('b')">&"#),
            "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;"
        );
    }

    #[test]
    fn embedded_json_cannot_close_its_script_element_and_reads_back_the_same() {
        let value =
            serde_json::json!({"name": "</script><script>alert(1)</script> <!-- & \u{2028}"});
        let embedded = json(&value);
        assert!(!embedded.contains('<') && !embedded.contains('>'));
        assert!(!embedded.contains('\u{2028}'));
        let back: serde_json::Value = serde_json::from_str(&embedded).unwrap();
        assert_eq!(back, value);
    }
}
