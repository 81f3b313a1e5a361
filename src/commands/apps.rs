//! `mcp-access apps`: read the account (no manifest needed) and list its apps.

use std::io::Write;

use super::{Status, client};
use crate::Error;
use crate::cloudflare::Permission;
use crate::config::Config;
use crate::inventory;

/// Lists the apps, only those of `app_type` when given.
pub(super) async fn run(
    config: &Config,
    app_type: Option<&str>,
    format: crate::apps::Format,
) -> Result<Status, Error> {
    let client = client(config, None, Permission::Read)?;
    let inventory = inventory::fetch(&client).await?;
    client.progress().finish_and_clear();
    let listing = crate::apps::list(&inventory, app_type);
    let mut out = crate::output::stdout();
    crate::apps::render(&listing, format, &mut out)?;
    out.flush()?;
    Ok(Status::Ok)
}
