#!/usr/bin/env bash
# Installs mcp-access for the GitHub Action (action.yml), in two phases:
#
#   install.sh release   Download the release binary for this runner and the action's
#                        own version, verify it against the release's SHA256SUMS, and
#                        write `bin=PATH` and `method=release` to $GITHUB_OUTPUT. When
#                        the action's ref names no release (a branch, an untagged
#                        commit, a local `uses: ./`) or `install: source` was asked,
#                        write `method=source` and `source-key=HASH` instead.
#   install.sh source    Build from the action's source with `cargo install` into
#                        $MCP_ACCESS_SOURCE_ROOT (kept by actions/cache under
#                        source-key), unless a build is already there; write `bin=PATH`.
#
# Environment (set by action.yml from GitHub's contexts, never interpolated into code):
#   INPUT_INSTALL        auto (default) | release | source
#   INPUT_VERSION        a release tag (v1.2.3) to use instead of the action's own ref
#   ACTION_REF           ${{ github.action_ref }}: a tag, a branch or a commit SHA
#   ACTION_REPOSITORY    ${{ github.action_repository }}, e.g. acme/mcp-access
#   GITHUB_ACTION_PATH   where the runner unpacked the action (its source)
#   RUNNER_OS, RUNNER_ARCH, RUNNER_TEMP, GITHUB_SERVER_URL, GITHUB_OUTPUT
#   MCP_ACCESS_RELEASES_URL  where releases are, one folder per tag holding its assets
#                        (tests point it at a file:// directory); default
#                        $GITHUB_SERVER_URL/$ACTION_REPOSITORY/releases/download
#
# A tagged version is never silently replaced by a source build: when its download or
# its checksum fails, the step fails. A commit SHA whose version has no release yet
# builds from source; a checksum mismatch fails whatever the ref.
set -euo pipefail

log() { printf '%s\n' "$*" >&2; }
fail() {
  # One line, as a GitHub error annotation.
  printf '::error title=mcp-access install::%s\n' "$*" >&2
  exit 1
}
output() { printf '%s=%s\n' "$1" "$2" >>"${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"; }

# The Rust target of the release archive for this runner, or nothing.
runner_target() {
  case "${RUNNER_OS:-}/${RUNNER_ARCH:-}" in
    Linux/X64) echo x86_64-unknown-linux-musl ;;
    Linux/ARM64) echo aarch64-unknown-linux-musl ;;
    macOS/X64) echo x86_64-apple-darwin ;;
    macOS/ARM64) echo aarch64-apple-darwin ;;
    Windows/X64) echo x86_64-pc-windows-msvc ;;
    *) ;;
  esac
}

# The version in the action's Cargo.toml: the release a commit of it belongs to.
source_version() {
  sed -n 's/^version = "\([^"]*\)".*/\1/p' "$GITHUB_ACTION_PATH/Cargo.toml" | head -n 1
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  else
    shasum -a 256 "$1" | cut -d ' ' -f 1
  fi
}

fetch() { # URL FILE
  curl --fail --silent --show-error --location --proto '=https,file' \
    --retry 3 --retry-delay 2 --connect-timeout 10 --max-time 120 \
    --output "$2" "$1"
}

# Decides which release tag to use and whether its binary's commit must match, by
# printing `TAG [COMMIT]`; prints nothing when no release applies.
resolve_tag() {
  local ref=${ACTION_REF:-} version
  if [ -n "${INPUT_VERSION:-}" ]; then
    echo "${INPUT_VERSION}"
    return
  fi
  version=$(source_version)
  if [[ "$ref" =~ ^v[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]*)?$ ]]; then
    # A release tag.
    echo "$ref"
  elif [[ "$ref" =~ ^v[0-9]+(\.[0-9]+)?$ ]] && [[ "v$version" == "$ref".* ]]; then
    # A floating major (v1) or minor (v1.2) tag at the release whose version the
    # source carries.
    echo "v$version"
  elif [[ "$ref" =~ ^[0-9a-f]{40}$ ]] && [ -n "$version" ]; then
    # A pinned commit: the release of the source's version, used only if its binary
    # was built from this very commit (checked after download).
    echo "v$version ${ref:0:12}"
  fi
}

# A hash of the action's source: the cache key of a source build, so a moving ref
# (a branch) never reuses a build of older code.
source_key() {
  (
    cd "$GITHUB_ACTION_PATH"
    find Cargo.toml Cargo.lock build.rs src -type f 2>/dev/null | LC_ALL=C sort |
      while IFS= read -r f; do printf '%s  %s\n' "$(sha256_of "$f")" "$f"; done
  ) >"$RUNNER_TEMP/mcp-access-source.sums"
  sha256_of "$RUNNER_TEMP/mcp-access-source.sums"
}

use_source() {
  log "mcp-access: $1; building from source."
  output method source
  output source-key "$(source_key)"
  exit 0
}

extract() { # ARCHIVE DIR
  case "$1" in
    *.zip)
      if command -v unzip >/dev/null 2>&1; then
        unzip -q -o "$1" -d "$2"
      else
        7z x -y -bd "-o$2" "$1" >/dev/null
      fi
      ;;
    *) tar -xzf "$1" -C "$2" ;;
  esac
}

install_release() {
  local mode=${INPUT_INSTALL:-auto} tag expect_commit target ext archive base dir got want line
  case "$mode" in
    auto | release) ;;
    source) use_source "install: source" ;;
    *) fail "install must be auto, release or source, not '$mode'" ;;
  esac
  read -r tag expect_commit <<<"$(resolve_tag)" || true
  if [ -z "${tag:-}" ]; then
    [ "$mode" = release ] &&
      fail "the action's ref '${ACTION_REF:-}' names no release; set 'version' to a release tag, or use install: source"
    use_source "ref '${ACTION_REF:-}' is not a release tag"
  fi
  target=$(runner_target)
  [ -n "$target" ] ||
    fail "no release binary for ${RUNNER_OS:-?}/${RUNNER_ARCH:-?}; use install: source"
  ext=tar.gz
  [ "${RUNNER_OS}" = Windows ] && ext=zip
  archive="mcp-access-${tag#v}-${target}.${ext}"
  base=${MCP_ACCESS_RELEASES_URL:-${GITHUB_SERVER_URL:-https://github.com}/${ACTION_REPOSITORY:?ACTION_REPOSITORY is not set}/releases/download}
  base="$base/$tag"
  dir="${RUNNER_TEMP:?RUNNER_TEMP is not set}/mcp-access-${tag}-${target}"
  rm -rf "$dir" && mkdir -p "$dir"

  log "mcp-access: downloading $archive ($tag)"
  if ! fetch "$base/SHA256SUMS" "$dir/SHA256SUMS"; then
    # A pinned commit between two releases: its version is not released (yet).
    [ -n "${expect_commit:-}" ] && [ "$mode" = auto ] &&
      use_source "no release $tag to match commit ${ACTION_REF}"
    fail "cannot download $base/SHA256SUMS"
  fi
  fetch "$base/$archive" "$dir/$archive" || fail "cannot download $base/$archive"
  # The line for exactly this file name (`HASH  NAME` or `HASH *NAME`).
  line=$(grep -E "^[0-9a-fA-F]{64} [ *]${archive//./\\.}\$" "$dir/SHA256SUMS" || true)
  [ -n "$line" ] || fail "SHA256SUMS of $tag has no line for $archive"
  want=$(printf '%s' "${line%% *}" | tr 'A-F' 'a-f')
  got=$(sha256_of "$dir/$archive")
  [ "$got" = "$want" ] ||
    fail "checksum mismatch for $archive: SHA256SUMS says $want, the download is $got; not installing it"
  log "mcp-access: sha256 $got verified against SHA256SUMS"

  extract "$dir/$archive" "$dir"
  local exe=mcp-access
  [ "${RUNNER_OS}" = Windows ] && exe=mcp-access.exe
  local bin="$dir/${archive%."$ext"}/$exe"
  [ -f "$bin" ] || fail "$archive holds no ${archive%."$ext"}/$exe"
  chmod +x "$bin"
  local version_line
  version_line=$("$bin" --version) || fail "$bin --version failed"
  log "mcp-access: installed $version_line"
  if [ -n "${expect_commit:-}" ] && [[ "$version_line" != *"(commit $expect_commit)"* ]]; then
    [ "$mode" = release ] &&
      fail "release $tag was built from another commit than the action's ref ${ACTION_REF}: $version_line"
    use_source "release $tag was not built from commit ${ACTION_REF}"
  fi
  output method release
  output bin "$bin"
}

install_source() {
  local root=${MCP_ACCESS_SOURCE_ROOT:?MCP_ACCESS_SOURCE_ROOT is not set}
  local bin="$root/bin/mcp-access"
  [ "${RUNNER_OS:-}" = Windows ] && bin="$bin.exe"
  if [ -x "$bin" ]; then
    log "mcp-access: using the cached source build $("$bin" --version)"
  else
    command -v cargo >/dev/null 2>&1 || fail "install: source needs cargo on the runner"
    cargo install --locked --path "$GITHUB_ACTION_PATH" --root "$root" ||
      fail "cargo install failed"
  fi
  output bin "$bin"
}

case "${1:-}" in
  release) install_release ;;
  source) install_source ;;
  *) fail "usage: install.sh release|source" ;;
esac
