#!/usr/bin/env bash
# The main job on the bundled default: installs what it needs, validates the
# default desired state, renders every stack's SAM template into out/templates,
# and lints them with cfn-lint.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
echo "[render] building reconciler" >&2
swift build --product reconciler
bin="$(swift build --show-bin-path)/reconciler"
out="${1:-$root/out/templates}"
"$bin" --help >/dev/null
"$bin" validate --config "$root/controller.conf"
"$bin" render --config "$root/controller.conf" --out "$out"
echo "[render] cfn-lint on every template" >&2
"$root/.venv/bin/cfn-lint" -- "$out"/*/*.yaml
echo "[render] done: templates in $out (manifest: $out/manifest.json), cfn-lint clean" >&2
