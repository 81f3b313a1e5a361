//! The `mcp-access` binary: parse arguments, start logging, run, print an error in one
//! style, map the outcome to an exit code (0 ok, 1 error, 2 changes pending with
//! `--exit-code`).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use mcp_access::cli::Cli;
use mcp_access::config::LogFormat;
use mcp_access::redact::{RedactingStderr, Redactor};
use mcp_access::{Status, error_report, github, output, run};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap's own `error: ...` with the usage line; printing never panics, even
            // on a closed stream.
            let _ = e.print();
            if e.use_stderr() {
                publish_failure(&e.render().to_string(), &env_redactor());
            }
            // Help and version are answers. Every usage error exits 1: 2 means "changes
            // pending" and nothing else.
            return ExitCode::from(u8::from(e.use_stderr()));
        }
    };
    let config = match cli.into_config(&|k| std::env::var(k).ok()) {
        Ok(config) => config,
        Err(message) => {
            // No validated token yet: scrub the one in the environment, if any.
            let redactor = env_redactor();
            let error = mcp_access::Error::Config(message);
            publish_failure(&error_report::render(&error, false), &redactor);
            return fail(&error, &redactor);
        }
    };
    let filter = EnvFilter::try_from_env("MCP_ACCESS_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("warn,mcp_access={}", config.log_level)));
    // The token (and a notification URL's secret path) never reaches stderr, whatever
    // a log line or an error quotes.
    let redactor = config.redactor.clone();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(RedactingStderr(redactor.clone()))
        // It would report a failed write with `eprintln!`, which panics when stderr is
        // closed (`2>&1 | head -1`): a log line that cannot be written is dropped.
        .log_internal_errors(false);
    match config.log_format {
        LogFormat::Json => logs.json().init(),
        LogFormat::Text => logs.with_ansi(stderr_is_colored()).init(),
    }
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            return fail(
                &mcp_access::Error::Config(format!("cannot start the async runtime: {e}")),
                &redactor,
            );
        }
    };
    match runtime.block_on(run(config)) {
        Ok(Status::Ok) => ExitCode::SUCCESS,
        Ok(Status::ChangesPending) => ExitCode::from(2),
        Err(error) => fail(&error, &redactor),
    }
}

/// Prints the error on stderr, every problem once, the token scrubbed, and returns exit
/// code 1. A closed stderr loses the message but never panics.
fn fail(error: &mcp_access::Error, redactor: &Redactor) -> ExitCode {
    let text = error_report::render(error, stderr_is_colored());
    let _ = anstream::stderr().write_all(redactor.scrub(&text).as_bytes());
    ExitCode::from(1)
}

/// Before the configuration is validated, the only token known is the environment's.
fn env_redactor() -> Redactor {
    Redactor::new(std::env::var("CLOUDFLARE_API_TOKEN").ok())
}

/// In CI, an error before any command ran (bad arguments) still reaches the job summary
/// and `$GITHUB_OUTPUT`, as a command's own failure does.
fn publish_failure(error: &str, redactor: &Redactor) {
    let markdown = output::failure_markdown(
        "mcp-access did not start: bad arguments",
        &redactor.scrub(error),
    );
    let _ = github::publish(&markdown, None, 1, redactor, &|k| std::env::var(k).ok());
}

fn stderr_is_colored() -> bool {
    anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never
}
