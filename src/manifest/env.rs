//! `${VAR}` / `${VAR:-default}` interpolation of manifest string values.
//!
//! Interpolation runs on parsed string values, not on the raw text: a variable's value
//! can never change the YAML structure (a value with `: ` or a newline stays one
//! string), and line numbers stay those of the file.

/// A `${...}` that could not be expanded: its byte range in the *unescaped* value and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvError {
    pub start: usize,
    pub len: usize,
    pub message: String,
    pub help: Option<String>,
}

/// Expands `${NAME}`, `${NAME:-default}` (default when unset or empty) and `$$` (a
/// literal `$`). Any other `$` is kept as is.
pub fn interpolate(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, EnvError> {
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
                    message: format!("`${{{inner}}}` is not a valid variable reference"),
                    help: Some(
                        "names are letters, digits and `_`, not starting with a digit; \
                         write `$$` for a literal dollar"
                            .to_owned(),
                    ),
                });
            }
            match (
                env(name).filter(|v| !(v.is_empty() && default.is_some())),
                default,
            ) {
                (Some(value), _) => out.push_str(&value),
                (None, Some(default)) => out.push_str(default),
                (None, None) => {
                    return Err(EnvError {
                        start: pos + i,
                        len: whole,
                        message: format!("environment variable `{name}` is not set"),
                        help: Some(format!(
                            "set `{name}`, or give a default: `${{{name}:-value}}`"
                        )),
                    });
                }
            }
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

    fn env(name: &str) -> Option<String> {
        match name {
            "ACCOUNT" => Some("abc123".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_set_variables_defaults_and_escapes() {
        assert_eq!(interpolate("${ACCOUNT}", &env).unwrap(), "abc123");
        assert_eq!(interpolate("a-${ACCOUNT}-b", &env).unwrap(), "a-abc123-b");
        assert_eq!(interpolate("${NOPE:-fallback}", &env).unwrap(), "fallback");
        assert_eq!(interpolate("${EMPTY:-fallback}", &env).unwrap(), "fallback");
        assert_eq!(interpolate("${EMPTY}", &env).unwrap(), "");
        assert_eq!(interpolate("${NOPE:-}", &env).unwrap(), "");
        assert_eq!(
            interpolate("$${ACCOUNT} costs $5", &env).unwrap(),
            "${ACCOUNT} costs $5"
        );
        assert_eq!(
            interpolate("${ACCOUNT}${ACCOUNT}", &env).unwrap(),
            "abc123abc123"
        );
        assert_eq!(interpolate("plain", &env).unwrap(), "plain");
    }

    #[test]
    fn unset_variable_points_at_its_reference() {
        let err = interpolate("x $$ ${ACCOUNT} ${MISSING} y", &env).unwrap_err();
        assert_eq!(err.message, "environment variable `MISSING` is not set");
        assert_eq!((err.start, err.len), (16, 10));
        assert!(err.help.unwrap().contains("${MISSING:-value}"));
    }

    #[test]
    fn malformed_references_are_errors() {
        assert!(
            interpolate("${ACCOUNT", &env)
                .unwrap_err()
                .message
                .contains("unterminated")
        );
        assert!(
            interpolate("${1X}", &env)
                .unwrap_err()
                .message
                .contains("not a valid")
        );
        assert!(interpolate("${}", &env).is_err());
    }
}
