#!/usr/bin/env bash
# Release packaging, shared by .github/workflows/release.yml and the tests (so the
# layout the Action's install.sh expects is the layout releases have).
#
#   package.sh archive VERSION TARGET BINARY DOCS_BINARY OUT_DIR
#       Writes OUT_DIR/mcp-access-VERSION-TARGET.tar.gz (.zip for Windows) holding
#       one folder of the same name: the binary, README.md, LICENSE and CHANGELOG.md
#       when present, man/man1/*.1 and completions/ for bash, zsh, fish, PowerShell
#       and elvish. DOCS_BINARY is a build that runs on this machine (BINARY may be
#       for another platform); it generates the man pages and completions.
#   package.sh sums OUT_DIR
#       Writes OUT_DIR/SHA256SUMS over every archive in OUT_DIR.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

archive() {
  local version=$1 target=$2 binary=$3 docs=$4 out=$5
  local name="mcp-access-${version}-${target}" exe=mcp-access
  [[ "$target" == *windows* ]] && exe=mcp-access.exe
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
  local stage
  stage=$(mktemp -d)
  local dir="$stage/$name"
  mkdir -p "$dir/man/man1" "$dir/completions"
  cp "$binary" "$dir/$exe"
  chmod 755 "$dir/$exe"
  for f in README.md LICENSE CHANGELOG.md; do
    if [ -f "$root/$f" ]; then cp "$root/$f" "$dir/"; fi
  done
  "$docs" man --dir "$dir/man/man1"
  "$docs" completions bash >"$dir/completions/mcp-access.bash"
  "$docs" completions zsh >"$dir/completions/_mcp-access"
  "$docs" completions fish >"$dir/completions/mcp-access.fish"
  "$docs" completions powershell >"$dir/completions/_mcp-access.ps1"
  "$docs" completions elvish >"$dir/completions/mcp-access.elv"
  (
    cd "$stage"
    if [[ "$target" == *windows* ]]; then
      rm -f "$out/$name.zip"
      zip -q -r -X "$out/$name.zip" "$name"
    else
      # No build machine user names in the archive; a stable file order.
      tar --sort=name --owner=0 --group=0 --numeric-owner -czf "$out/$name.tar.gz" "$name"
    fi
  )
  rm -rf "$stage"
  echo "$out/$name.$([[ "$target" == *windows* ]] && echo zip || echo tar.gz)"
}

sums() {
  local out=$1
  (
    cd "$out"
    shopt -s nullglob
    files=(mcp-access-*.tar.gz mcp-access-*.zip)
    [ "${#files[@]}" -gt 0 ] || {
      echo "no archives in $out" >&2
      exit 1
    }
    sha256sum "${files[@]}" >SHA256SUMS
    cat SHA256SUMS
  )
}

case "${1:-}" in
  archive)
    shift
    [ $# -eq 5 ] || {
      echo "usage: package.sh archive VERSION TARGET BINARY DOCS_BINARY OUT_DIR" >&2
      exit 2
    }
    archive "$@"
    ;;
  sums)
    [ $# -eq 2 ] || {
      echo "usage: package.sh sums OUT_DIR" >&2
      exit 2
    }
    sums "$2"
    ;;
  *)
    echo "usage: package.sh archive|sums ..." >&2
    exit 2
    ;;
esac
