#!/usr/bin/env bash
# Installs what the project needs on a fresh machine, idempotently:
#   - libgit2-dev from Debian (the git source links libgit2),
#   - a Python virtual environment in .venv with moto[server] (the AWS emulator)
#     and cfn-lint (checks every rendered SAM template).
# Safe to run repeatedly: each step is skipped when already satisfied.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${RECONCILER_VENV:-$root/.venv}"

say() { printf '[bootstrap] %s\n' "$*" >&2; }

if ! pkg-config --exists libgit2 2>/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then
        say "installing libgit2-dev (apt)"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgit2-dev pkg-config >/dev/null
    else
        say "libgit2-dev is missing: run 'sudo apt-get install -y libgit2-dev pkg-config' and retry"
        exit 1
    fi
fi

if [ ! -x "$venv/bin/cfn-lint" ] || [ ! -x "$venv/bin/moto_server" ]; then
    say "creating Python virtual environment in $venv (moto[server], cfn-lint)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]>=5.1' 'cfn-lint>=1.20'
fi
say "ready: $("$venv/bin/cfn-lint" --version 2>&1 | head -1), moto $("$venv/bin/python" -c 'import moto;print(moto.__version__)')"
