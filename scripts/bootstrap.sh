#!/usr/bin/env bash
# Installs what the project needs on a fresh machine, idempotently:
#   - libgit2-dev and libcurl4-openssl-dev from Debian (the git source links libgit2; the
#     AWS client speaks HTTP through libcurl),
#   - a Python virtual environment in .venv with the pinned tools of
#     scripts/requirements.txt: MiniStack (the emulator that runs the full templates),
#     moto[server] (wire tests) and cfn-lint (checks every rendered SAM template).
#   - with --browser (the test suite): Debian's chromium, which opens the dashboard headless.
# Safe to run repeatedly: each step is skipped when already satisfied.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${RECONCILER_VENV:-$root/.venv}"

say() { printf '[bootstrap] %s\n' "$*" >&2; }

if ! pkg-config --exists libgit2 libcurl 2>/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then
        say "installing libgit2-dev and libcurl4-openssl-dev (apt)"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgit2-dev libcurl4-openssl-dev pkg-config >/dev/null
    else
        say "libgit2-dev or libcurl4-openssl-dev is missing: run 'sudo apt-get install -y libgit2-dev libcurl4-openssl-dev pkg-config' and retry"
        exit 1
    fi
fi

if [ "${1:-}" = "--browser" ] && ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
        say "installing chromium (apt), for the dashboard's browser test"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        say "chromium is missing: run 'sudo apt-get install -y chromium' and retry"
        exit 1
    fi
fi

requirements="$root/scripts/requirements.txt"
stamp="$venv/.requirements.sha256"
wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    say "installing the pinned Python tools into $venv (scripts/requirements.txt: ministack, moto, cfn-lint)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    echo "$wanted" >"$stamp"
fi
say "ready: $("$venv/bin/cfn-lint" --version 2>&1 | head -1), moto $("$venv/bin/python" -c 'import moto;print(moto.__version__)'), ministack $("$venv/bin/python" -c 'import importlib.metadata as m;print(m.version("ministack"))')"
