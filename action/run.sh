#!/usr/bin/env bash
# Runs mcp-access for the GitHub Action (action.yml) and decides the step's result.
#
# Environment (set by action.yml; inputs come in as data, never as code):
#   MCP_ACCESS_BIN       the binary (from install.sh)
#   INPUT_COMMAND        plan | apply
#   INPUT_MANIFESTS      manifest paths: one per line, or separated by spaces
#   INPUT_PLAN_FILE      apply only: a plan saved by `plan --out`
#   INPUT_ARGS           extra arguments, over any number of lines, split like a shell
#                        would split them (quotes keep spaces: --out "my plan.json"),
#                        with no expansion of variables, globs or commands
#   GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, RUNNER_TEMP   as GitHub sets them
#
# The step succeeds on exit code 0, and on 2 (changes pending, with --exit-code) only
# when mcp-access wrote its plan to the step's outputs; any other code fails the step.
# The binary itself writes the Markdown plan to $GITHUB_STEP_SUMMARY and has-changes,
# plan-json and exit-code to $GITHUB_OUTPUT; this script adds output-file and the
# final exit-code.
set -euo pipefail

fail() {
  printf '::error title=mcp-access::%s\n' "$*" >&2
  exit 1
}
: "${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"
bin=${MCP_ACCESS_BIN:?MCP_ACCESS_BIN is not set}

# Manifests: one per line when there are several lines (a path may hold spaces),
# otherwise separated by spaces.
files=()
if [[ "${INPUT_MANIFESTS:-}" == *$'\n'* ]]; then
  while IFS= read -r line; do
    line="${line#"${line%%[![:space:]]*}"}"
    line="${line%"${line##*[![:space:]]}"}"
    [ -n "$line" ] && files+=(-f "$line")
  done <<<"$INPUT_MANIFESTS"
else
  read -r -a words <<<"${INPUT_MANIFESTS:-}"
  for m in ${words[@]+"${words[@]}"}; do files+=(-f "$m"); done
fi
[ "${#files[@]}" -gt 0 ] || fail "manifests is empty: name at least one manifest file or directory"

# Extra arguments: xargs splits on blanks and new lines and honours '...', "..." and
# backslashes, and expands nothing, so the input stays data.
extra=()
if [[ "${INPUT_ARGS:-}" =~ [^[:space:]] ]]; then
  words_file="${RUNNER_TEMP:-/tmp}/mcp-access-args.$$"
  printf '%s\n' "$INPUT_ARGS" | xargs printf '%s\0' >"$words_file" ||
    fail "cannot split args: is a quote unmatched?"
  while IFS= read -r -d '' word; do extra+=("$word"); done <"$words_file"
  rm -f "$words_file"
fi

case "${INPUT_COMMAND:-plan}" in
  plan) cmd=(plan "${files[@]}") ;;
  apply)
    if [ -n "${INPUT_PLAN_FILE:-}" ]; then
      cmd=(apply "$INPUT_PLAN_FILE" "${files[@]}")
    else
      cmd=(apply "${files[@]}")
    fi
    ;;
  *) fail "command must be plan or apply, not '${INPUT_COMMAND}'" ;;
esac

out="${RUNNER_TEMP:-/tmp}/mcp-access-output"
# What the binary appends to $GITHUB_OUTPUT is read back to tell a plan with changes
# (exit 2 after writing has-changes=true) from any other exit 2.
before=$(wc -c <"$GITHUB_OUTPUT" 2>/dev/null || echo 0)
set +e
"$bin" "${cmd[@]}" ${extra[@]+"${extra[@]}"} | tee "$out"
code=${PIPESTATUS[0]}
set -e
written=$(tail -c "+$((before + 1))" "$GITHUB_OUTPUT" 2>/dev/null || true)
{
  printf 'output-file=%s\n' "$out"
  printf 'exit-code=%s\n' "$code"
} >>"$GITHUB_OUTPUT"

case "$code" in
  0) exit 0 ;;
  2)
    if grep -qx 'has-changes=true' <<<"$written"; then
      echo "mcp-access: changes pending (exit code 2); the plan is in the outputs."
      exit 0
    fi
    printf '::error title=mcp-access::%s\n' \
      "mcp-access exited 2 without writing a plan (a usage error in args?); failing the step" >&2
    exit 2
    ;;
  *)
    printf '::error title=mcp-access::%s\n' "mcp-access failed with exit code $code" >&2
    exit "$code"
    ;;
esac
