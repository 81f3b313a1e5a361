//! `${VAR}` / `${VAR:-default}` interpolation of manifest string values.
//!
//! Interpolation runs on parsed string values, not on the raw text: a variable's value
//! can never change the YAML structure (a value with `: ` or a newline stays one
//! string), and line numbers stay those of the file.

use super::error::shorten;
use super::yaml::MAX_FILE_BYTES;

/// A `${...}` that could not be expanded: its byte range in the *unescaped* value and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvError {
    pub start: usize,
    pub len: usize,
    pub message: String,
    pub help: Option<String>,
    /// The expansion would pass the size limit (not a missing or malformed variable).
    pub over_limit: bool,
}

/// Expands `${NAME}`, `${NAME:-default}` (default when unset or empty) and `$$` (a
/// literal `$`). Any other `$` is kept as is. The result may be at most `max_len`
/// bytes: expansion stops at the first reference that would pass it, so a variable of
/// 100 KB referenced 8,000 times costs nothing.
pub fn interpolate(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    max_len: usize,
) -> Result<String, EnvError> {
    if !text.contains('$') {
        return Ok(text.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut pos = 0;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            pos += i + 2;
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let Some(close) = body.find('}') else {
                return Err(EnvError {
                    start: pos + i,
                    len: rest.len() - i,
                    message: "unterminated `${`".to_owned(),
                    help: Some("write `${NAME}`, or `$$` for a literal dollar".to_owned()),
                    over_limit: false,
                });
            };
            let inner = &body[..close];
            let (name, default) = match inner.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            let whole = close + 3;
            if !is_var_name(name) {
                return Err(EnvError {
                    start: pos + i,
                    len: whole,
                    message: format!(
                        "`${{{}}}` is not a valid variable reference",
                        shorten(inner)
                    ),
                    help: Some(
                        "names are letters, digits and `_`, not starting with a digit; \
                         write `$$` for a literal dollar"
                            .to_owned(),
                    ),
                    over_limit: false,
                });
            }
            let value = match (
                env(name).filter(|v| !(v.is_empty() && default.is_some())),
                default,
            ) {
                (Some(value), _) => value,
                (None, Some(default)) => default.to_owned(),
                (None, None) => {
                    return Err(EnvError {
                        start: pos + i,
                        len: whole,
                        message: format!("environment variable `{name}` is not set"),
                        help: Some(format!(
                            "set `{name}`, or give a default: `${{{name}:-value}}`"
                        )),
                        over_limit: false,
                    });
                }
            };
            // What is left of the text after this reference still has to fit too.
            let after = body.len() - close - 1;
            if out.len() + value.len() + after > max_len {
                return Err(EnvError {
                    start: pos + i,
                    len: whole,
                    message: format!(
                        "`${{{name}}}` expands to {} bytes, and the manifest would grow past the {MAX_FILE_BYTES}-byte limit",
                        value.len()
                    ),
                    help: Some(
                        "variables hold short values such as ids and names; put long content in the manifest itself".to_owned(),
                    ),
                    over_limit: true,
                });
            }
            out.push_str(&value);
            pos += i + whole;
            rest = &body[close + 1..];
        } else {
            out.push('$');
            pos += i + 1;
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Room left for expansion in one file: a file of `len` bytes may grow to the same
/// limit as a file read from disk.
pub fn room(len: usize) -> usize {
    MAX_FILE_BYTES.saturating_sub(len)
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, EnvError> {
        interpolate(text, env, MAX_FILE_BYTES)
    }

    fn env(name: &str) -> Option<String> {
        match name {
            "ACCOUNT" => Some("abc123".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_set_variables_defaults_and_escapes() {
        assert_eq!(expand("${ACCOUNT}", &env).unwrap(), "abc123");
        assert_eq!(expand("a-${ACCOUNT}-b", &env).unwrap(), "a-abc123-b");
        assert_eq!(expand("${NOPE:-fallback}", &env).unwrap(), "fallback");
        assert_eq!(expand("${EMPTY:-fallback}", &env).unwrap(), "fallback");
        assert_eq!(expand("${EMPTY}", &env).unwrap(), "");
        assert_eq!(expand("${NOPE:-}", &env).unwrap(), "");
        assert_eq!(
            expand("$${ACCOUNT} costs $5", &env).unwrap(),
            "${ACCOUNT} costs $5"
        );
        assert_eq!(
            expand("${ACCOUNT}${ACCOUNT}", &env).unwrap(),
            "abc123abc123"
        );
        assert_eq!(expand("plain", &env).unwrap(), "plain");
    }

    #[test]
    fn unset_variable_points_at_its_reference() {
        let err = expand("x $$ ${ACCOUNT} ${MISSING} y", &env).unwrap_err();
        assert_eq!(err.message, "environment variable `MISSING` is not set");
        assert_eq!((err.start, err.len), (16, 10));
        assert!(err.help.unwrap().contains("${MISSING:-value}"));
    }

    #[test]
    fn expansion_stops_at_the_first_reference_past_the_limit() {
        let big = |name: &str| (name == "BIG").then(|| "v".repeat(120 * 1024));
        assert_eq!(
            interpolate("${BIG}", &big, 200_000).unwrap().len(),
            120 * 1024
        );
        let text = "${BIG} ".repeat(8000);
        let err = interpolate(&text, &big, MAX_FILE_BYTES).unwrap_err();
        assert!(
            err.message
                .contains("`${BIG}` expands to 122880 bytes, and the manifest would grow past the 1048576-byte limit"),
            "{err:?}"
        );
        // The ninth reference is the one that does not fit.
        assert_eq!((err.start, err.len), (8 * 7, 6));
        assert!(!err.message.contains("vvv"));
        // The text after the last reference counts too.
        assert!(interpolate("${ACCOUNT}xyz", &env, 8).is_err());
        assert!(interpolate("${ACCOUNT}xy", &env, 8).is_ok());
        assert_eq!(room(MAX_FILE_BYTES + 5), 0);
    }

    #[test]
    fn malformed_references_are_errors() {
        assert!(
            expand("${ACCOUNT", &env)
                .unwrap_err()
                .message
                .contains("unterminated")
        );
        assert!(
            expand("${1X}", &env)
                .unwrap_err()
                .message
                .contains("not a valid")
        );
        assert!(expand("${}", &env).is_err());
    }
}
