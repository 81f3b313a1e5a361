//! The `mcp-access` binary: parse arguments, start logging, run, map the outcome to an
//! exit code (0 ok, 1 error, 2 changes pending with `--exit-code`).

use std::process::ExitCode;

use clap::Parser;
use mcp_access::cli::Cli;
use mcp_access::config::LogFormat;
use mcp_access::{Status, run};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Help and version are answers. Every usage error exits 1: 2 means "changes
            // pending" and nothing else.
            return ExitCode::from(u8::from(e.use_stderr()));
        }
    };
    let config = match cli.into_config(&|k| std::env::var(k).ok()) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(1);
        }
    };
    let filter = EnvFilter::try_from_env("MCP_ACCESS_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("warn,mcp_access={}", config.log_level)));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => logs.json().init(),
        LogFormat::Text => logs
            .with_ansi(
                anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never,
            )
            .init(),
    }
    // Long messages stay on one line, so they can be searched in CI logs.
    let _ = miette::set_hook(Box::new(|_| {
        Box::new(miette::MietteHandlerOpts::new().wrap_lines(false).build())
    }));
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(config)) {
        Ok(Status::Ok) => ExitCode::SUCCESS,
        Ok(Status::ChangesPending) => ExitCode::from(2),
        Err(error) => {
            eprintln!("{:?}", miette::Report::new(error));
            ExitCode::from(1)
        }
    }
}
