//! Keeping the API token out of everything the process prints.
//!
//! One mechanism, applied at two kinds of places: where the API client hands out an
//! error (server messages may quote the `Authorization` header), and where output
//! leaves the process (the error the binary renders, every log line, the plan in any
//! format, GitHub's files). A [`Redactor`] knows the secret values and replaces each
//! occurrence with `[redacted]`, whatever the text came from: a server message, a
//! manifest value such as `${CLOUDFLARE_API_TOKEN}` echoed in an error, or a log field.

use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Secrets shorter than this are not scrubbed: replacing every `a` of a one-letter
/// "token" would garble all output and protect nothing.
const MIN_SECRET_LEN: usize = 4;

/// Replaces known secret values in text. Cheap to clone; `Debug` never shows them.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Arc<[SecretString]>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secret(s))", self.secrets.len())
    }
}

impl Redactor {
    /// A redactor for these values (blank and very short ones are ignored).
    pub fn new<S: AsRef<str>>(secrets: impl IntoIterator<Item = S>) -> Self {
        let secrets: Vec<SecretString> = secrets
            .into_iter()
            .map(|s| s.as_ref().trim().to_owned())
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .map(SecretString::from)
            .collect();
        Self {
            secrets: secrets.into(),
        }
    }

    /// A redactor for the API token, when there is one.
    pub fn for_token(token: Option<&SecretString>) -> Self {
        Self::new(token.map(ExposeSecret::expose_secret))
    }

    /// True when there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with every secret replaced by [`REDACTED`]; borrowed when there was none.
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in self.secrets.iter() {
            let secret = secret.expose_secret();
            if out.contains(secret) {
                out = Cow::Owned(out.replace(secret, REDACTED));
            }
        }
        out
    }

    /// Bytes as [`Redactor::scrub`] (non-UTF-8 bytes pass through when no secret can be
    /// found in them).
    pub fn scrub_bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        if self.is_empty() {
            return Cow::Borrowed(bytes);
        }
        let text = String::from_utf8_lossy(bytes);
        match self.scrub(&text) {
            Cow::Borrowed(_) => Cow::Borrowed(bytes),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        }
    }

    /// A writer that buffers what is written to it and writes it to `inner`, scrubbed,
    /// on `flush` and on drop. Meant for output written in whole pieces (one log
    /// event, one rendered plan), so that a secret is never split between two writes.
    pub fn writer<W: Write>(&self, inner: W) -> RedactingWriter<W> {
        RedactingWriter {
            redactor: self.clone(),
            inner,
            buffer: Vec::new(),
        }
    }
}

/// See [`Redactor::writer`].
pub struct RedactingWriter<W: Write> {
    redactor: Redactor,
    inner: W,
    buffer: Vec<u8>,
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buffer.is_empty() {
            let buffer = std::mem::take(&mut self.buffer);
            self.inner.write_all(&self.redactor.scrub_bytes(&buffer))?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// A `tracing_subscriber` writer factory: stderr, one scrubbed write per log event.
#[derive(Clone, Debug)]
pub struct RedactingStderr(pub Redactor);

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RedactingStderr {
    type Writer = RedactingWriter<io::Stderr>;

    fn make_writer(&'a self) -> Self::Writer {
        self.0.writer(io::stderr())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_every_occurrence_and_borrows_otherwise() {
        let r = Redactor::new(["s3cr3t-token"]);
        assert_eq!(
            r.scrub("Authorization: Bearer s3cr3t-token, again s3cr3t-token"),
            "Authorization: Bearer [redacted], again [redacted]"
        );
        assert!(matches!(r.scrub("nothing here"), Cow::Borrowed(_)));
        assert!(Redactor::new([""]).is_empty());
        assert!(!format!("{r:?}").contains("s3cr3t"));
    }

    #[test]
    fn the_writer_scrubs_a_secret_split_across_writes() {
        let r = Redactor::new(["s3cr3t-token"]);
        let mut out = Vec::new();
        {
            let mut w = r.writer(&mut out);
            w.write_all(b"token s3cr").unwrap();
            w.write_all(b"3t-token end\n").unwrap();
        }
        assert_eq!(String::from_utf8(out).unwrap(), "token [redacted] end\n");
    }
}
