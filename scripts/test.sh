#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what it needs
# (scripts/bootstrap.sh --browser: chromium too), builds, and runs `swift test` with cfn-lint from .venv.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh --browser
export CFN_LINT="$root/.venv/bin/cfn-lint"
# The formatter's rules are .swift-format; `swift format -i -r Sources Tests bench Package.swift` applies them.
echo "[test] swift format lint --strict" >&2
swift format lint --strict -r Sources Tests bench Package.swift
# The shape rules (functions of at most 80 lines, files of at most 400, lines of at most 160).
python3 scripts/shape.py 5
echo "[test] building and running the test suite" >&2
swift build --build-tests
swift test --skip-build "$@"
