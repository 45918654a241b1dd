#!/usr/bin/env bash
# bench/scale: plan and apply of synthetic desired states of growing size (bench/scale/generate.py:
# 7 functions, 5 queue types and 4 bucket types per 1x, functions and queues in four regions)
# against MiniStack behind the delay proxy. For each size, in one run: the plan of the empty
# account, the apply, and the no-change plan after it; time, API calls and critical-path depth,
# each as a ratio to 1x beside the ratio of the sizes (linear growth: the ratios match).
#   bench/scale/run.sh [SIZES...]   (default: 1 10 50; DELAY_MS=50; BUILD=debug to skip the release build;
#                                    BENCH_JSON=FILE also writes the rows: size, run, ms, calls, refused, bound_ms;
#                                    BENCH_KEEP=DIR keeps each run's output, times and proxy timeline there)
# With THROTTLE_RPS=N the proxy refuses, as AWS does, what goes beyond N requests per second to a
# service in a region, and the controller runs in adaptive retry mode with 10 attempts: the
# run shows whether the work is throttled gracefully (slower) or fails, and how often AWS said no.
# Each row's `bound` is the least time the run could take: a service and region's answered calls
# divided by the allowed rate (the largest of those), or the critical path's depth times the
# delay if longer, or (throttled) the same run's time without throttling, which a pass on a fresh
# emulator measures first: latency and the cloud's own work (stacks being created) that no pacing
# can beat; `x bound` is the run's time over it. Then, per row, each service and region's
# answered calls and the requests the proxy refused.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(1 10 50)
delay="${DELAY_MS:-50}"; build="${BUILD:-release}"
source bench/common.sh

# One pass: a fresh emulator (an empty account) behind a proxy refusing beyond RPS requests/s (none
# when empty), and plan, apply, plan again; each run's output, times and timeline named NAME.SUFFIX.
pass() { # SIZE RPS SUFFIX
    local size="$1" rps="$2" suffix="$3"
    if [ -n "${proxy:-}" ]; then kill "${pids[-1]}" 2>/dev/null || true; fi
    stop_emulator; mkdir -p "$work/$size/emulator$suffix"
    start_emulator "$work/$size/emulator$suffix"
    start_proxy "$delay" "$rps"
    rm -rf "$work/$size/state-dir$suffix"
    printf '[aws]\nendpoint = "%s"\n%s[apply]\npython = "%s"\npoll_seconds = 1\n[state]\ndirectory = "%s/state-dir%s"\n' "$proxy" \
        "${rps:+retry_mode = \"adaptive\"
max_attempts = 10
}" "$py" "$work/$size" "$suffix" >"$work/$size/c$suffix.conf"
    run() { # NAME COMMAND...: timed, with the proxy's timeline kept
        local out="$work/$size/$1$suffix"
        curl -s -X DELETE "$proxy/__timeline" >/dev/null
        "$py" bench/timed.py "$out.times" "${@:2}" >"$out.out" 2>"$out.err" || true
        curl -s "$proxy/__timeline" >"$out.timeline"
        curl -s -X DELETE "$proxy/__throttled" >"$out.throttled"
        if [ -n "${BENCH_KEEP:-}" ]; then mkdir -p "$BENCH_KEEP/$size"; cp "$out".* "$BENCH_KEEP/$size/"; fi
        # A run that failed says why (its last lines), since the work directory goes at the end.
        if [ "$(cut -d' ' -f3 "$out.times")" = 1 ]; then
            echo "    $1$suffix failed:" >&2; grep -v '^ *$' "$out.err" | tail -3 | cut -c1-400 | sed 's/^/      /' >&2
        fi
    }
    local conf="$work/$size/c$suffix.conf" state="$work/$size/state"
    run plan-empty "$bin" plan --config "$conf" --desired-state "$state" --json
    run apply "$bin" apply --config "$conf" --desired-state "$state"
    run plan-after "$bin" plan --config "$conf" --desired-state "$state" --json --detailed-exitcode
    tail -3 "$work/$size/apply$suffix.out" | sed 's/^/    /' >&2
}

for size in "${sizes[@]}"; do
    mkdir -p "$work/$size"
    "$py" bench/scale/generate.py "$work/$size/state" --functions $((7 * size)) --queues $((5 * size)) --buckets $((4 * size))
    echo "[bench] ${size}x: $((7 * size)) functions, $((5 * size)) queue types, $((4 * size)) bucket types; $delay ms per request" >&2
    # Throttled, the same runs without throttling first: what they take when only latency and the
    # cloud's own work (stacks being created) limit them, a part of each run's bound.
    if [ -n "${THROTTLE_RPS:-}" ]; then
        echo "[bench] ${size}x without throttling (the latency reference)" >&2
        pass "$size" "" .reference
        echo "[bench] ${size}x at $THROTTLE_RPS requests/s per service and region" >&2
    fi
    pass "$size" "${THROTTLE_RPS:-}" ""
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
    # Throttled, the same run without throttling: latency and the cloud's own work (CloudFormation
    # creating stacks), which no pacing can beat.
    reference = 0.0
    if os.path.exists(f"{work}/{size}/{name}.reference.times"):
        rstart, rend, rcode = open(f"{work}/{size}/{name}.reference.times").read().split()
        reference = float(rend) - float(rstart) if int(rcode) == 0 else 0.0
    bound = max(rate_bound, depth * delay / 1000, reference)
    return dict(took=float(end) - float(start), calls=len(timeline), depth=depth, code=int(code), bound=bound, per_key=per_key, refused=refused,
                reference=reference)

print(f"bench/scale: synthetic desired states (7 functions, 5 queue types, 4 bucket types per 1x) on MiniStack, {delay} ms per request"
      + (f", at most {throttle:g} requests/s per service and region (beyond: AWS's throttling errors; adaptive retries)" if throttle else ""))
print("  bound: the largest of (a service and region's answered calls / the allowed rate), (critical-path depth x delay)"
      + (" and (the same run without throttling: `unthrottled`)" if throttle else ""))
print(f"  {'size':>5} {'':>12} {'time':>9} {'x 1x':>6} {'calls':>6} {'x 1x':>6} {'depth':>5}"
      + (f" {'unthrottled':>11}" if throttle else "") + f" {'bound':>9} {'x bound':>7}  exit  refused")
base, rows, detail = {}, [], []
for size in sizes:
    for name in ("plan-empty", "apply", "plan-after"):
        r = read(size, name)
        base.setdefault(name, (r["took"], r["calls"]))
        t0, c0 = base[name]
        refused = sum(r["refused"].values())
        print(f"  {size + 'x':>5} {name:>12} {r['took']*1000:>6.0f} ms {r['took']/t0:>5.1f}x {r['calls']:>6} {r['calls']/max(1,c0):>5.1f}x {r['depth']:>5}"
              + (f" {r['reference']*1000:>8.0f} ms" if throttle else "")
              + f" {r['bound']*1000:>6.0f} ms {r['took']/max(r['bound'], 1e-9):>6.2f}x  {r['code']:>4}  {refused:>7}")
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
