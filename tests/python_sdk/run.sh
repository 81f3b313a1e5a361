#!/usr/bin/env bash
# Checks the simulator with the official Cloudflare Python SDK: builds mcp-access,
# starts `mcp-access sim serve` on free loopback ports (one with a small apps page cap,
# one with a tiny rate limit), runs check_sim.py against each, and stops the servers.
#
# PYTHON (default: python3) must have the packages of requirements.txt installed;
# .ci/run installs them in a virtualenv and sets PYTHON.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON="${PYTHON:-python3}"
work="$(mktemp -d)"
server_pids=()
cleanup() {
    for pid in "${server_pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
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

# start_server NAME ARGS...: starts `sim serve ARGS` and waits for the `export NAME=value`
# lines it prints once it listens (kept in $work/NAME.out).
start_server() {
    local name="$1"
    shift
    "$work/mcp-access" sim serve --listen 127.0.0.1:0 "$@" >"$work/$name.out" 2>"$work/$name.err" &
    server_pids+=("$!")
    for _ in $(seq 1 100); do
        if grep -q '^export CLOUDFLARE_API_TOKEN=' "$work/$name.out"; then return 0; fi
        sleep 0.1
    done
    echo "sim serve $* did not start:" >&2
    cat "$work/$name.err" >&2
    exit 1
}

start_server paged --apps-page-cap 2
start_server limited --rate-limit 3/2s

# shellcheck disable=SC1090
(source <(grep '^export ' "$work/paged.out") && "$PYTHON" tests/python_sdk/check_sim.py)
# shellcheck disable=SC1090
(source <(grep '^export ' "$work/limited.out") && "$PYTHON" tests/python_sdk/check_sim.py --rate-limited)
