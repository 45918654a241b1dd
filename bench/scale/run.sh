#!/usr/bin/env bash
# bench/scale: plan and apply of synthetic desired states of growing size (bench/scale/generate.py:
# 7 functions, 5 queue types and 4 bucket types per 1x, functions and queues in four regions)
# against MiniStack behind the delay proxy. For each size, in one run: the plan of the empty
# account, the apply, and the no-change plan after it; time, API calls and critical-path depth,
# each as a ratio to 1x beside the ratio of the sizes (linear growth: the ratios match).
#   bench/scale/run.sh [SIZES...]   (default: 1 10 50; DELAY_MS=50; BUILD=debug to skip the release build)
# With THROTTLE_RPS=N the proxy refuses, as AWS does, what goes beyond N requests per second to a
# service in a region, and the controller runs in adaptive retry mode with 10 attempts: the
# run shows whether the work is throttled gracefully (slower) or fails, and how often AWS said no.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(1 10 50)
delay="${DELAY_MS:-50}"; build="${BUILD:-release}"
source bench/common.sh

for size in "${sizes[@]}"; do
    # A fresh emulator per size: each starts from an empty account.
    stop_emulator; mkdir -p "$work/$size"
    start_emulator "$work/$size"
    start_proxy "$delay"
    "$py" bench/scale/generate.py "$work/$size/state" --functions $((7 * size)) --queues $((5 * size)) --buckets $((4 * size))
    printf '[aws]\nendpoint = "%s"\n%s[apply]\npython = "%s"\npoll_seconds = 1\n[state]\ndirectory = "%s/state-dir"\n' "$proxy" \
        "${THROTTLE_RPS:+retry_mode = \"adaptive\"
max_attempts = 10
}" "$py" "$work/$size" >"$work/$size/c.conf"
    run() { # NAME COMMAND...: timed, with the proxy's timeline kept
        curl -s -X DELETE "$proxy/__timeline" >/dev/null
        "$py" bench/timed.py "$work/$size/$1.times" "${@:2}" >"$work/$size/$1.out" 2>"$work/$size/$1.err" || true
        curl -s "$proxy/__timeline" >"$work/$size/$1.timeline"
        curl -s -X DELETE "$proxy/__throttled" >"$work/$size/$1.throttled"
    }
    echo "[bench] ${size}x: $((7 * size)) functions, $((5 * size)) queue types, $((4 * size)) bucket types; $delay ms per request" >&2
    run plan-empty "$bin" plan --config "$work/$size/c.conf" --desired-state "$work/$size/state" --json
    run apply "$bin" apply --config "$work/$size/c.conf" --desired-state "$work/$size/state"
    run plan-after "$bin" plan --config "$work/$size/c.conf" --desired-state "$work/$size/state" --json --detailed-exitcode
    tail -3 "$work/$size/apply.out" | sed 's/^/    /' >&2
done

python3 - "$work" "$delay" "${sizes[@]}" <<'PY'
import json, sys
sys.path.insert(0, "bench")
from critical_path import chain
work, delay, sizes = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def read(size, name):
    start, end, code = open(f"{work}/{size}/{name}.times").read().split()
    timeline = json.load(open(f"{work}/{size}/{name}.timeline"))
    return float(end) - float(start), len(timeline), len(chain(timeline)), int(code)
import os
throttle = os.environ.get("THROTTLE_RPS")
print(f"bench/scale: synthetic desired states (7 functions, 5 queue types, 4 bucket types per 1x) on MiniStack, {delay} ms per request"
      + (f", at most {throttle} requests/s per service and region (beyond: AWS's throttling errors; adaptive retries)" if throttle else ""))
print(f"  {'size':>5} {'':>12} {'time':>9} {'x 1x':>6} {'calls':>6} {'x 1x':>6} {'depth':>5}  exit" + ("  throttled" if throttle else ""))
base = {}
for size in sizes:
    for name in ("plan-empty", "apply", "plan-after"):
        took, calls, depth, code = read(size, name)
        base.setdefault(name, (took, calls))
        t0, c0 = base[name]
        refused = sum(json.load(open(f"{work}/{size}/{name}.throttled")).values())
        print(f"  {size + 'x':>5} {name:>12} {took*1000:>6.0f} ms {took/t0:>5.1f}x {calls:>6} {calls/max(1,c0):>5.1f}x {depth:>5}  {code}" + (f"  {refused:>9}" if throttle else ""))
PY
