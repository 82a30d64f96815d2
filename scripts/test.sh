#!/usr/bin/env bash
# ruff, mypy and pytest: all three run, and the script fails if any of them failed.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
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
