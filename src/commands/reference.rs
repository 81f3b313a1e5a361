//! `completions` and `man`: shell completion scripts and man pages, generated from the
//! same clap definition that parses the command line, so they cannot drift from it.

use std::io::Write;
use std::path::Path;

use crate::Error;

/// Writes the completion script for `shell` to `out`.
pub fn completions(
    cli: &clap::Command,
    shell: clap_complete::Shell,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let mut cli = cli.clone();
    let name = cli.get_name().to_owned();
    // Into memory first: the generator panics on a write error (a closed pipe), and a
    // closed pipe must end quietly, like any other output.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cli, name, &mut script);
    out.write_all(&script)?;
    Ok(())
}

/// Writes the main man page to `out`, or with `dir`, one page per command into `dir`
/// (created when missing).
pub fn man(cli: &clap::Command, dir: Option<&Path>, out: &mut dyn Write) -> Result<(), Error> {
    match dir {
        None => clap_mangen::Man::new(cli.clone()).render(out)?,
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::Config(format!("cannot create --dir {}: {e}", dir.display()))
            })?;
            clap_mangen::generate_to(cli.clone(), dir).map_err(|e| {
                Error::Config(format!("cannot write man pages to {}: {e}", dir.display()))
            })?;
        }
    }
    Ok(())
}
