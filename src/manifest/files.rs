//! Finding and reading manifest files: directories expanded to their `*.yaml`/`*.yml`
//! entries, and each file read only if it is a regular file, without ever blocking.
//!
//! A manifest that silently lost a file is a smaller manifest, and a reconcile of a
//! smaller manifest detaches and deletes. So every entry that looks like a manifest and
//! cannot be read (a dangling or looping symlink, a fifo, a socket, a directory named
//! `x.yaml`, a permission error) is an error, never a skip.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::error::{Problem, ProblemKind};
use super::yaml::MAX_FILE_BYTES;

/// The files named by `paths`, directories expanded (their `*.yaml`/`*.yml` entries,
/// sorted by name), in order. Whatever cannot be listed is a problem.
pub(super) fn expand(paths: &[PathBuf], problems: &mut Vec<Problem>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in paths {
        let shown = path.display().to_string();
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => match list(path) {
                Ok(found) if found.is_empty() => problems.push(
                    Problem::in_path(
                        ProblemKind::Io,
                        shown,
                        "directory has no `*.yaml` or `*.yml` manifest files",
                    )
                    .help("manifests are read from the directory itself, not its subdirectories"),
                ),
                Ok(found) => files.extend(found),
                Err(err) => problems.push(Problem::in_path(
                    ProblemKind::Io,
                    shown,
                    format!("cannot read directory: {err}"),
                )),
            },
            // Files, and paths that do not resolve: `read` says what is wrong with them.
            _ => files.push(path.clone()),
        }
    }
    files
}

/// Every entry of `dir` whose name ends in `.yaml` or `.yml`, whatever its type: an
/// entry that is not a readable regular file is reported by [`read`], not dropped.
fn list(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        // An entry that cannot be listed could be a manifest: fail rather than guess.
        let path = entry?.path();
        if is_yaml(&path) {
            found.push(path);
        }
    }
    found.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(found)
}

fn is_yaml(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "yaml" || e == "yml")
}

/// Reads one manifest file: a regular file (symlinks to one are fine), UTF-8, at most
/// [`MAX_FILE_BYTES`]. Never blocks on a fifo or device, even one swapped in after the
/// type check.
pub(super) fn read(path: &Path) -> Result<String, (ProblemKind, String)> {
    let io = |message: String| (ProblemKind::Io, message);
    let meta = std::fs::metadata(path).map_err(|e| io(why_unreadable(path, &e)))?;
    if !meta.is_file() {
        return Err(io(format!("cannot read: {}", not_a_file(&meta))));
    }
    let file = open_nonblocking(path).map_err(|e| io(why_unreadable(path, &e)))?;
    // The path may have been replaced since the check: trust only the open file.
    let meta = file
        .metadata()
        .map_err(|e| io(format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(io(format!("cannot read: {}", not_a_file(&meta))));
    }
    let mut bytes = Vec::new();
    // Read one byte past the limit so an oversized file is refused without reading it all.
    file.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io(format!("cannot read: {e}")))?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err((
            ProblemKind::Limit,
            format!("file is larger than the {MAX_FILE_BYTES}-byte limit for a manifest"),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        io(format!("not UTF-8 text (invalid byte at offset {at})"))
    })
}

/// Opens for reading with `O_NONBLOCK`, so that opening a fifo never waits for a
/// writer. (Regular files ignore the flag.)
#[cfg(unix)]
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}

/// Why `path` cannot be opened, naming a dangling or looping symlink as such.
fn why_unreadable(path: &Path, err: &std::io::Error) -> String {
    let symlink = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if symlink && err.kind() == std::io::ErrorKind::NotFound {
        let target = std::fs::read_link(path)
            .map(|t| format!(" to `{}`", t.display()))
            .unwrap_or_default();
        return format!("cannot read: a dangling symlink{target} (its target does not exist)");
    }
    if symlink && is_loop(err) {
        return "cannot read: a symlink loop".to_owned();
    }
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => format!("cannot read: permission denied ({err})"),
        _ => format!("cannot read: {err}"),
    }
}

#[cfg(unix)]
fn is_loop(err: &std::io::Error) -> bool {
    err.raw_os_error() == Some(libc::ELOOP)
}

#[cfg(not(unix))]
fn is_loop(_: &std::io::Error) -> bool {
    false
}

/// What a non-regular file is, for the error.
fn not_a_file(meta: &std::fs::Metadata) -> &'static str {
    let kind = meta.file_type();
    if kind.is_dir() {
        return "a directory, not a manifest file";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a fifo (named pipe), not a regular file";
        }
        if kind.is_socket() {
            return "a socket, not a regular file";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device, not a regular file";
        }
    }
    "not a regular file"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_names_are_the_two_extensions_only() {
        assert!(is_yaml(Path::new("a.yaml")));
        assert!(is_yaml(Path::new("dir/b.yml")));
        assert!(!is_yaml(Path::new("a.yaml.bak")));
        assert!(!is_yaml(Path::new("yaml")));
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_blocking_even_past_the_type_check() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("m.yaml");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        // What `read` does after its type check passed on a file since replaced.
        let file = open_nonblocking(&fifo).expect("opening a fifo does not wait");
        assert!(!file.metadata().unwrap().is_file());
        let (_, message) = read(&fifo).unwrap_err();
        assert!(message.contains("fifo"), "{message}");
    }
}
