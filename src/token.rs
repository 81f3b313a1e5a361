//! The API token, from `CLOUDFLARE_API_TOKEN` or `--api-token-file`, checked at
//! start-up: a token that cannot be sent (a line break or control character inside,
//! say) is a clear error now rather than a request error retried for minutes later,
//! and a token file others can read earns a warning, as ssh gives for a private key.
//!
//! Messages name the file and the position of a bad character, never the token.

use std::io::Read;
use std::path::Path;

use secrecy::SecretString;

/// Largest token file read. Cloudflare API tokens are 40 characters; anything much
/// longer is not a token file (`/dev/zero`, a log file named by mistake).
pub const MAX_TOKEN_FILE_BYTES: u64 = 64 * 1024;

/// A token and what is worth a warning about where it came from.
#[derive(Debug)]
pub struct Token {
    /// The token.
    pub secret: SecretString,
    /// A warning to print once (a token file readable by others).
    pub warning: Option<String>,
}

/// The token in `CLOUDFLARE_API_TOKEN`, surrounding whitespace removed; `None` when
/// the variable is unset or blank.
pub fn from_env(value: Option<String>) -> Result<Option<Token>, String> {
    let Some(value) = value else { return Ok(None) };
    let token = value.trim();
    if token.is_empty() {
        return Ok(None);
    }
    check(token).map_err(|why| format!("CLOUDFLARE_API_TOKEN {why}"))?;
    Ok(Some(Token {
        secret: SecretString::from(token.to_owned()),
        warning: None,
    }))
}

/// The token in the file at `path`: its only line, surrounding whitespace removed.
/// Pipes (`--api-token-file <(pass show cloudflare)`) are fine; a file that group or
/// others can read is accepted with a warning.
pub fn from_file(path: &Path) -> Result<Token, String> {
    let shown = path.display();
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_TOKEN_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read --api-token-file {shown}: {e}"))?;
    if bytes.len() as u64 > MAX_TOKEN_FILE_BYTES {
        return Err(format!(
            "--api-token-file {shown} is larger than {MAX_TOKEN_FILE_BYTES} bytes; it must hold only the token"
        ));
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        format!("--api-token-file {shown} is not text; it must hold only the token")
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(format!("--api-token-file {shown} is empty"));
    }
    check(token).map_err(|why| format!("the token in --api-token-file {shown} {why}"))?;
    Ok(Token {
        secret: SecretString::from(token.to_owned()),
        warning: loose_permissions(path),
    })
}

/// Why `token` cannot be a bearer token, if it cannot: it must be one line of visible
/// ASCII. (Cloudflare's tokens are 40 letters, digits, `-` and `_`; an HTTP header
/// value cannot hold a line break or control character at all.)
pub fn check(token: &str) -> Result<(), String> {
    let Some((i, c)) = token
        .chars()
        .enumerate()
        .find(|(_, c)| !c.is_ascii_graphic())
    else {
        return Ok(());
    };
    let position = i + 1;
    Err(match c {
        '\n' | '\r' => format!(
            "has a line break inside it (at character {position}); it must be a single line holding only the token"
        ),
        ' ' | '\t' => {
            format!("has a space inside it (at character {position}); it must be the token alone")
        }
        c if c.is_control() => format!(
            "has a control character (U+{:04X}) at character {position}, which cannot be sent in an HTTP header",
            u32::from(c)
        ),
        c => format!(
            "has a non-ASCII character (U+{:04X}) at character {position}; API tokens are plain ASCII (copied with smart quotes?)",
            u32::from(c)
        ),
    })
}

/// The warning for a token file that group or others can read, as ssh gives for a
/// private key (ssh refuses; a warning keeps existing set-ups running).
#[cfg(unix)]
fn loose_permissions(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).ok()?;
    let mode = meta.permissions().mode() & 0o777;
    (meta.is_file() && mode & 0o077 != 0).then(|| {
        format!(
            "--api-token-file {} can be read by group or others (permissions {mode:04o}); restrict it with `chmod 600 {}` (in Kubernetes, `defaultMode: 0400` on the Secret volume)",
            path.display(),
            path.display()
        )
    })
}

#[cfg(not(unix))]
fn loose_permissions(_: &Path) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_one_line_of_visible_ascii() {
        assert!(check("AbC-123_xyz").is_ok());
        for (token, says) in [
            ("abc\ndef", "line break inside it (at character 4)"),
            ("abc\rdef", "line break"),
            ("ab cd", "space inside it (at character 3)"),
            ("ab\u{7f}", "control character (U+007F) at character 3"),
            ("ab\u{0}", "control character (U+0000)"),
            ("“abc”", "non-ASCII character (U+201C) at character 1"),
        ] {
            let why = check(token).unwrap_err();
            assert!(why.contains(says), "{token:?}: {why}");
            assert!(!why.contains("abc") && !why.contains("def"), "{why}");
        }
    }

    #[test]
    fn the_environment_token_is_trimmed_and_checked() {
        assert!(from_env(None).unwrap().is_none());
        assert!(from_env(Some("  \n".into())).unwrap().is_none());
        let token = from_env(Some(" tok\n".into())).unwrap().unwrap();
        assert_eq!(secrecy::ExposeSecret::expose_secret(&token.secret), "tok");
        let err = from_env(Some("one\ntwo".into())).unwrap_err();
        assert!(
            err.starts_with("CLOUDFLARE_API_TOKEN has a line break"),
            "{err}"
        );
    }
}
