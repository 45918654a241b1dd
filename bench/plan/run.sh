#!/usr/bin/env bash
# bench/plan: `reconciler plan` of the default desired state over four regions, against
# MiniStack (the whole application deployed) behind loopback proxies that add a delay to every request, beside a sequential boto3
# script making the same reads (how the original tool worked), in the same run, at each delay.
# Prints per delay the medians, the plan's critical-path depth (from the proxy's timeline),
# the ratio of the plan's time to depth x delay (the physical limit on that network), the
# boto3 ratio, and the API calls a no-change plan makes per region.
#   bench/plan/run.sh [RUNS] [DELAY_MS...]   (default: 5 runs at 50 and 150 ms; BUILD=debug to skip the release build)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
runs="${1:-5}"; delays=("${@:2}"); [ ${#delays[@]} -gt 0 ] || delays=(50 150); build="${BUILD:-release}"
source bench/common.sh
start_emulator "$work"

conf() { # endpoint → controller.conf
    printf '[aws]\nendpoint = "%s"\n[apply]\npython = "%s"\npoll_seconds = 1\n[state]\ndirectory = "%s/state"\n' "$1" "$py" "$work" >"$work/$2"
}
conf "$endpoint" direct.conf
echo "[bench] deploying the default desired state to the emulator (no delay)" >&2
"$bin" apply --config "$work/direct.conf" --desired-state desired-state >/dev/null

# One proxy per delay: 50 ms (a near region) and 150 ms (a far one) by default.
for delay in "${delays[@]}"; do
    start_proxy "$delay"
    conf "$proxy" "proxied-$delay.conf"
    echo "[bench] $runs runs each, $delay ms added to every request" >&2
    for i in $(seq "$runs"); do
        curl -s -X DELETE "$proxy/__calls" >/dev/null; curl -s -X DELETE "$proxy/__timeline" >/dev/null
        status=0
        "$py" bench/timed.py "$work/swift-$delay.times" \
            "$bin" plan --config "$work/proxied-$delay.conf" --desired-state desired-state --json --detailed-exitcode >"$work/plan.json" || status=$?
        [ "$status" -eq 0 ] || { echo "plan exit $status (expected 0: no changes)" >&2; exit 1; }
        curl -s "$proxy/__calls" >"$work/swift.calls"
        curl -s "$proxy/__timeline" >"$work/swift-$delay.timeline.$i"
        curl -s -X DELETE "$proxy/__calls" >/dev/null
        "$py" bench/timed.py "$work/boto3-$delay.times" "$py" bench/plan/boto3_sequential.py "$proxy" "$account" >"$work/boto3.count"
        curl -s "$proxy/__calls" >"$work/boto3.calls"
    done
done
python3 - "$work" "$runs" "${delays[@]}" <<'PY'
import json, statistics, sys
sys.path.insert(0, "bench")
from critical_path import chain, outside
work, runs, delays = sys.argv[1], int(sys.argv[2]), sys.argv[3:]

def times(name):
    return [float(b) - float(a) for a, b, _ in (line.split() for line in open(f"{work}/{name}.times"))]

print(f"bench/plan: a no-change plan of the default desired state, {runs} runs per delay, MiniStack behind scripts/delay_proxy.py")
print("  critical path: the longest chain of requests the plan sent each after the previous was answered (from the proxy's timeline);")
print("  its depth x the delay is the least any client could take on that network.")
print(f"  {'delay':>6}  {'reconciler':>10}  {'depth':>5}  {'limit':>6}  {'plan/limit':>10}  {'boto3':>7}  {'boto3/plan':>10}")
spans = {}
for delay in delays:
    swift, boto = times(f"swift-{delay}"), times(f"boto3-{delay}")
    ms, mb = statistics.median(swift), statistics.median(boto)
    chains = [chain(json.load(open(f"{work}/swift-{delay}.timeline.{i}"))) for i in range(1, runs + 1)]
    d = statistics.median(len(c) for c in chains)
    limit = d * int(delay) / 1000
    print(f"  {delay:>4} ms  {ms*1000:>7.0f} ms  {d:>5.0f}  {limit*1000:>3.0f} ms  {ms/limit:>9.2f}x  {mb*1000:>4.0f} ms  {mb/ms:>9.1f}x")
    # Where the rest of the plan's time goes (the proxy's clock is the same monotonic clock).
    starts = [tuple(map(float, line.split()[:2])) for line in open(f"{work}/swift-{delay}.times")]
    parts = [outside(c, t0, t1) for c, (t0, t1) in zip(chains, starts)]
    before, gaps, after, inside = (statistics.median(p[k] for p in parts) for k in range(4))
    spans[delay] = (before, gaps, after, inside, chains[-1])
for delay, (before, gaps, after, inside, path) in spans.items():
    print(f"  at {delay} ms, outside the requests: {before*1000:.0f} ms before the first, {gaps*1000:.0f} ms between those of the critical path, {after*1000:.0f} ms after the last")
    print(f"    the critical path's requests took {inside*1000:.0f} ms in the proxy (the delay and the emulator's own time)")
    print("    critical path: " + " → ".join(r[2].split(' ', 1)[1] for r in path))
plan = json.load(open(f"{work}/plan.json"))
calls = json.load(open(f"{work}/swift.calls"))
print(f"  plan: {'no changes' if not plan['plan']['regions'] or all(not r['steps'] for r in plan['plan']['regions']) else 'CHANGES'}; API calls of a no-change plan per region (reconciler's count / proxy's count):")
for region in sorted(set(plan["apiCalls"]) | set(calls)):
    print(f"    {region}: {plan['apiCalls'].get(region, 0)} / {calls.get(region, 0)}")
print(f"  total {sum(plan['apiCalls'].values())} (boto3 script: {open(f'{work}/boto3.count').read().strip()})")
from collections import Counter
last = json.load(open(f"{work}/swift-{delays[-1]}.timeline.{runs}"))
print("  by operation (the last run; REST calls by path):")
for region in sorted({r[2].split(' ')[1] for r in last}):
    counted = Counter(r[2].split(' ', 2)[2] if ' ' in r[2].split(' ', 1)[1] else r[2] for r in last if r[2].split(' ')[1] == region)
    print(f"    {region}: " + ", ".join(f"{n}× {op}" if n > 1 else op for op, n in sorted(counted.items())))
PY
