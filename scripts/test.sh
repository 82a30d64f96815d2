#!/usr/bin/env bash
# ruff, mypy and pytest: all three run, and the script fails if any of them failed.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
# Development settings for the tools (mypy's Django plugin loads them; so does pytest's
# harness). Production settings are tested by the suite itself, in subprocesses.
export DEBUG="${DEBUG:-true}"
status=0

step() {
    echo "==> $*"
    "$@" || { echo "FAILED: $*" >&2; status=1; }
}

step "$BIN/ruff" check .
step "$BIN/ruff" format --check .
step "$BIN/mypy" .
step "$BIN/python" -m pytest
exit $status
