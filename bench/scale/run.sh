#!/usr/bin/env bash
# bench/scale: plan and apply of synthetic desired states of growing size (bench/scale/generate.py:
# 7 functions, 5 queue types and 4 bucket types per 1x, functions and queues in four regions)
# against MiniStack behind the delay proxy. For each size, in one run: the plan of the empty
# account, the apply, and the no-change plan after it; time, API calls and critical-path depth,
# each as a ratio to 1x beside the ratio of the sizes (linear growth: the ratios match).
#   bench/scale/run.sh [SIZES...]   (default: 1 10 50; DELAY_MS=50; BUILD=debug to skip the release build;
#                                    BENCH_JSON=FILE also writes the rows: size, run, ms, calls, refused, bound_ms)
# With THROTTLE_RPS=N the proxy refuses, as AWS does, what goes beyond N requests per second to a
# service in a region, and the controller runs in adaptive retry mode with 10 attempts: the
# run shows whether the work is throttled gracefully (slower) or fails, and how often AWS said no.
# Each row's `bound` is the least time the run could take: a service and region's answered calls
# divided by the allowed rate (the largest of those), or the critical path's depth times the
# delay if longer; `x bound` is the run's time over it. Then, per row, each service and region's
# answered calls and the requests the proxy refused.
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
        # A run that failed says why (its last lines), since the work directory goes at the end.
        if [ "$(cut -d' ' -f3 "$work/$size/$1.times")" = 1 ]; then
            echo "    $1 failed:" >&2; grep -v '^ *$' "$work/$size/$1.err" | tail -3 | cut -c1-400 | sed 's/^/      /' >&2
        fi
    }
    echo "[bench] ${size}x: $((7 * size)) functions, $((5 * size)) queue types, $((4 * size)) bucket types; $delay ms per request" >&2
    run plan-empty "$bin" plan --config "$work/$size/c.conf" --desired-state "$work/$size/state" --json
    run apply "$bin" apply --config "$work/$size/c.conf" --desired-state "$work/$size/state"
    run plan-after "$bin" plan --config "$work/$size/c.conf" --desired-state "$work/$size/state" --json --detailed-exitcode
    tail -3 "$work/$size/apply.out" | sed 's/^/    /' >&2
done

python3 - "$work" "$delay" "${sizes[@]}" <<'PY'
import json, os, sys
from collections import Counter
sys.path.insert(0, "bench")
from critical_path import chain
work, delay, sizes = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
throttle = float(os.environ.get("THROTTLE_RPS") or 0)

def read(size, name):
    start, end, code = open(f"{work}/{size}/{name}.times").read().split()
    timeline = json.load(open(f"{work}/{size}/{name}.timeline"))
    answered = [r for r in timeline if not r[2].endswith(" THROTTLED")]
    refused = Counter(json.load(open(f"{work}/{size}/{name}.throttled")))
    # The bound: what the run cannot beat. Each service and region allows `throttle` requests a
    # second, so its calls take at least calls / rate; the requests that depend on each other
    # take at least the critical path's depth times the delay. The larger of those.
    per_key = Counter(r[3] for r in answered)
    rate_bound = max((n / throttle for n in per_key.values()), default=0) if throttle else 0
    depth = len(chain(answered))
    bound = max(rate_bound, depth * delay / 1000)
    return dict(took=float(end) - float(start), calls=len(timeline), depth=depth, code=int(code), bound=bound, per_key=per_key, refused=refused)

print(f"bench/scale: synthetic desired states (7 functions, 5 queue types, 4 bucket types per 1x) on MiniStack, {delay} ms per request"
      + (f", at most {throttle:g} requests/s per service and region (beyond: AWS's throttling errors; adaptive retries)" if throttle else ""))
print("  bound: the largest of (a service and region's answered calls / the allowed rate) and (critical-path depth x delay)")
print(f"  {'size':>5} {'':>12} {'time':>9} {'x 1x':>6} {'calls':>6} {'x 1x':>6} {'depth':>5} {'bound':>9} {'x bound':>7}  exit  refused")
base, rows, detail = {}, [], []
for size in sizes:
    for name in ("plan-empty", "apply", "plan-after"):
        r = read(size, name)
        base.setdefault(name, (r["took"], r["calls"]))
        t0, c0 = base[name]
        refused = sum(r["refused"].values())
        print(f"  {size + 'x':>5} {name:>12} {r['took']*1000:>6.0f} ms {r['took']/t0:>5.1f}x {r['calls']:>6} {r['calls']/max(1,c0):>5.1f}x {r['depth']:>5}"
              + f" {r['bound']*1000:>6.0f} ms {r['took']/max(r['bound'], 1e-9):>6.1f}x  {r['code']:>4}  {refused:>7}")
        rows.append({"size": f"{size}x", "run": name, "ms": round(r["took"] * 1000), "calls": r["calls"], "refused": refused,
                     "bound_ms": round(r["bound"] * 1000)})
        keys = sorted(set(r["per_key"]) | set(r["refused"]))
        detail.append((f"{size}x {name}", [(k, r["per_key"][k], r["refused"][k]) for k in keys]))
print("  per service and region: answered calls / refused")
for label, keys in detail:
    print(f"    {label}: " + ", ".join(f"{k} {n}/{m}" for k, n, m in keys))
if os.environ.get("BENCH_JSON"):
    json.dump(rows, open(os.environ["BENCH_JSON"], "w"), indent=1)
PY
