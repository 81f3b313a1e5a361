//! `mcp-access import`: read the account (no manifest needed) and write the manifest
//! of its grants, on stdout or to `--out`.

use std::io::Write;
use std::path::Path;

use super::{Status, client};
use crate::Error;
use crate::cloudflare::Permission;
use crate::config::Config;
use crate::manifest::DEFAULT_OWNER;
use crate::{inventory, manifest};

/// Imports the account for `--owner` (else the default owner).
pub(super) async fn run(config: &Config, out: Option<&Path>) -> Result<Status, Error> {
    let owner = config.owner.as_deref().unwrap_or(DEFAULT_OWNER);
    let client = client(config, None, Permission::Read)?;
    let inventory = inventory::fetch(&client).await?;
    client.progress().finish_and_clear();
    let account_id = client.config().account_id.clone();
    let imported = crate::import::import(&inventory, owner, Some(&account_id));
    let text = manifest::write::render(&imported.document);

    // What import writes must load and resolve against the account it came from; a
    // manifest that does not is never written.
    let shown = out.map_or_else(|| "<stdout>".to_owned(), |p| p.display().to_string());
    let checked = manifest::parse_str(&shown, &text, &|_| None)
        .and_then(|m| manifest::resolve(&m, owner, &inventory).map(|_| ()));
    if let Err(e) = checked {
        tracing::error!(
            "the imported manifest does not load; this is a bug in mcp-access import, please report it"
        );
        return Err(e.into());
    }

    if let Some(path) = out {
        std::fs::write(path, &text)
            .map_err(|e| Error::Config(format!("cannot write --out {}: {e}", path.display())))?;
    } else {
        let mut stdout = crate::output::stdout();
        stdout.write_all(text.as_bytes())?;
        stdout.flush()?;
    }
    if config.log_level > tracing::Level::WARN {
        eprintln!(
            "Imported {} server(s) and {} downstream link(s){}; {} grant(s) a plain link cannot express are explained in comments.",
            imported.servers,
            imported.links,
            out.map_or_else(String::new, |p| format!(" into {}", p.display())),
            imported.not_declared
        );
    }
    Ok(Status::Ok)
}
