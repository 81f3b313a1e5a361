//! Reading manifest files and directories, and merging them into one [`Manifest`].

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use miette::NamedSource;
use sha2::{Digest, Sha256};

use super::error::{ManifestError, Problem, ProblemKind, shorten};
use super::files::{expand, read};
use super::location::{Located, SourceFile};
use super::parse::{FileDecl, parse_file};
use super::{AppRef, Manifest, ServerDecl};

/// Loads manifests from files and directories (every `*.yaml`/`*.yml` directly in a
/// directory, by name), interpolating `${VAR}` from the process environment.
pub fn load(paths: &[PathBuf]) -> Result<Manifest, ManifestError> {
    load_with_env(paths, &|name| std::env::var(name).ok())
}

/// Like [`load`], with variables looked up in `env`.
pub fn load_with_env(
    paths: &[PathBuf],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Manifest, ManifestError> {
    let mut problems = Vec::new();
    let mut sources = Vec::new();
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    if paths.is_empty() {
        problems.push(Problem::in_path(
            ProblemKind::Io,
            "manifest",
            "no manifest path given",
        ));
    }
    for file in expand(paths, &mut problems) {
        // The same file named twice (`dir/` and `dir/a.yaml`) is read once.
        let key = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
        if !seen.insert(key) {
            continue;
        }
        match read(&file) {
            Ok(text) => {
                sources.push(Arc::new(NamedSource::new(file.display().to_string(), text)));
                files.push(file);
            }
            Err((kind, message)) => {
                problems.push(Problem::in_path(kind, file.display().to_string(), message));
            }
        }
    }
    assemble(&sources, files, env, problems)
}

/// Parses one in-memory manifest file called `name`.
pub fn parse_str(
    name: &str,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Manifest, ManifestError> {
    let source = Arc::new(NamedSource::new(name, text.to_owned()));
    assemble(&[source], vec![PathBuf::from(name)], env, Vec::new())
}

/// Parses every source and merges them, collecting every problem.
fn assemble(
    sources: &[SourceFile],
    files: Vec<PathBuf>,
    env: &dyn Fn(&str) -> Option<String>,
    mut problems: Vec<Problem>,
) -> Result<Manifest, ManifestError> {
    let mut owner: Option<Located<String>> = None;
    let mut account_id: Option<Located<String>> = None;
    let mut adopt: Option<Located<bool>> = None;
    let mut servers: Vec<ServerDecl> = Vec::new();
    let mut server_at: HashMap<AppRef, usize> = HashMap::new();
    let mut hasher = Sha256::new();

    for source in sources {
        hasher.update(source.name().as_bytes());
        hasher.update([0]);
        hasher.update((source.inner().len() as u64).to_be_bytes());
        hasher.update(source.inner().as_bytes());

        let (decl, found) = parse_file(source, env);
        problems.extend(found);
        let FileDecl {
            owner: o,
            account_id: a,
            adopt: d,
            servers: s,
        } = decl;
        agree("owner", &mut owner, o, &mut problems);
        agree("account_id", &mut account_id, a, &mut problems);
        agree("adopt", &mut adopt, d, &mut problems);
        for server in s {
            check_downstream_duplicates(&server, &mut problems);
            if let Some(&first) = server_at.get(&server.app.value) {
                let first = &servers[first].app.at;
                problems.push(
                    Problem::at(
                        ProblemKind::Conflict,
                        &server.app.at,
                        format!(
                            "server {} is declared twice; first at {first}",
                            server.app.value
                        ),
                    )
                    .label("declared again here")
                    .help("list all of a server's downstream apps under one declaration")
                    .other(first),
                );
                continue;
            }
            server_at.insert(server.app.value.clone(), servers.len());
            servers.push(server);
        }
    }
    if !problems.is_empty() {
        return Err(ManifestError::new(problems));
    }
    Ok(Manifest {
        owner: owner.map(|o| o.value),
        account_id: account_id.map(|a| a.value),
        servers,
        adopt: adopt.is_some_and(|a| a.value),
        digest: format!("{:x}", hasher.finalize()),
        files,
    })
}

/// Keeps the first value of a top-level setting; a later different one is a problem.
fn agree<T: PartialEq + std::fmt::Display>(
    what: &str,
    kept: &mut Option<Located<T>>,
    new: Option<Located<T>>,
    problems: &mut Vec<Problem>,
) {
    let Some(new) = new else { return };
    // Values are shortened when quoted: a hostile file's megabyte-long owner is not
    // repeated whole in the error.
    let (new_text, first_text) = (
        new.value.to_string(),
        kept.as_ref()
            .map(|f| f.value.to_string())
            .unwrap_or_default(),
    );
    match kept {
        None => *kept = Some(new),
        Some(first) if first.value == new.value => {}
        Some(first) => problems.push(
            Problem::at(
                ProblemKind::Conflict,
                &new.at,
                format!(
                    "{what} `{}` differs from {what} `{}` at {}",
                    shorten(&new_text),
                    shorten(&first_text),
                    first.at
                ),
            )
            .label(format!("{what} `{}`", shorten(&new_text)))
            .help(format!(
                "set {what} in one file, or to the same value everywhere"
            ))
            .other(&first.at),
        ),
    }
}

fn check_downstream_duplicates(server: &ServerDecl, problems: &mut Vec<Problem>) {
    let mut seen: HashMap<&AppRef, &Located<AppRef>> = HashMap::new();
    for d in &server.downstream {
        if let Some(first) = seen.get(&d.value) {
            problems.push(
                Problem::at(
                    ProblemKind::Conflict,
                    &d.at,
                    format!(
                        "downstream {} is listed twice under server {}; first at {}",
                        d.value, server.app.value, first.at
                    ),
                )
                .label("listed again here")
                .help("remove one of them")
                .other(&first.at),
            );
        } else {
            seen.insert(&d.value, d);
        }
    }
}
