#!/usr/bin/env bash
# Checks the simulator with the official Cloudflare Python SDK: builds mcp-access,
# starts `mcp-access sim serve` on a free loopback port with a small apps page cap,
# runs check_sim.py against it, and stops the server.
#
# PYTHON (default: python3) must have the packages of requirements.txt installed;
# .ci/run installs them in a virtualenv and sets PYTHON.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON="${PYTHON:-python3}"
work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# The exact binary cargo built, copied so a concurrent build cannot replace it.
bin="$(cargo build --locked --quiet --bin mcp-access --message-format=json \
    | "$PYTHON" -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "mcp-access":
        print(m["executable"])')"
cp "$bin" "$work/mcp-access"

"$work/mcp-access" sim serve --listen 127.0.0.1:0 --apps-page-cap 2 \
    >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!

# sim serve prints `export NAME=value` lines once it listens.
for _ in $(seq 1 100); do
    if grep -q '^export CLOUDFLARE_API_TOKEN=' "$work/serve.out"; then break; fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "sim serve exited:" >&2
        cat "$work/serve.err" >&2
        exit 1
    fi
    sleep 0.1
done
grep -q '^export CLOUDFLARE_API_TOKEN=' "$work/serve.out" || {
    echo "sim serve did not start in time" >&2
    cat "$work/serve.err" >&2
    exit 1
}
# shellcheck disable=SC1090
source <(grep '^export ' "$work/serve.out")

"$PYTHON" tests/python_sdk/check_sim.py
