#!/usr/bin/env bash
# bench/plan: `reconciler plan` of the default desired state over four regions, against
# MiniStack (the whole application deployed) behind a loopback proxy that adds 50 ms to every request, beside a sequential boto3
# script making the same reads (how the original tool worked), in the same run.
# Prints medians, the ratio, and the API calls a no-change plan makes per region.
#   bench/plan/run.sh [RUNS] [DELAY_MS]       (BUILD=debug to skip the release build)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
runs="${1:-5}"; delay="${2:-50}"; build="${BUILD:-release}"
bash scripts/bootstrap.sh
swift build -c "$build" --product reconciler >&2
bin="$(swift build -c "$build" --show-bin-path)/reconciler"
py="$root/.venv/bin/python"

work="$(mktemp -d "${TMPDIR:-/tmp}/reconciler-bench-plan.XXXXXX")"
source scripts/emulator.sh
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; stop_emulator; rm -rf "$work"; }
trap cleanup EXIT

start_emulator "$work"
field() { python3 -c "import json,sys;print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

conf() { # endpoint → controller.conf
    printf '[aws]\nendpoint = "%s"\n[apply]\npython = "%s"\npoll_seconds = 1\n[state]\ndirectory = "%s/state"\n' "$1" "$py" "$work" >"$work/$2"
}
conf "$endpoint" direct.conf
echo "[bench] deploying the default desired state to the emulator (no delay)" >&2
"$bin" apply --config "$work/direct.conf" --desired-state desired-state >/dev/null

mkfifo "$work/proxy"
"$py" scripts/delay_proxy.py "${endpoint##*:}" "$delay" >"$work/proxy" & pids+=($!)
read -r proxy_hello <"$work/proxy"
proxy="http://127.0.0.1:$(field "$proxy_hello" port)"
conf "$proxy" proxied.conf

now() { python3 -c 'import time;print(time.monotonic())'; }
echo "[bench] $runs runs each, $delay ms added to every request" >&2
for i in $(seq "$runs"); do
    curl -s -X DELETE "$proxy/__calls" >/dev/null
    t0="$(now)"; status=0
    "$bin" plan --config "$work/proxied.conf" --desired-state desired-state --json --detailed-exitcode >"$work/plan.json" || status=$?
    t1="$(now)"
    [ "$status" -eq 0 ] || { echo "plan exit $status (expected 0: no changes)" >&2; exit 1; }
    echo "$t0 $t1" >>"$work/swift.times"
    curl -s "$proxy/__calls" >"$work/swift.calls"
    curl -s -X DELETE "$proxy/__calls" >/dev/null
    t0="$(now)"; "$py" bench/plan/boto3_sequential.py "$proxy" "$account" >"$work/boto3.count"; t1="$(now)"
    echo "$t0 $t1" >>"$work/boto3.times"
    curl -s "$proxy/__calls" >"$work/boto3.calls"
done
python3 - "$work" "$delay" <<'PY'
import json, statistics, sys
work, delay = sys.argv[1], sys.argv[2]
def times(name):
    return [float(b) - float(a) for a, b in (line.split() for line in open(f"{work}/{name}.times"))]
swift, boto = times("swift"), times("boto3")
ms, mb = statistics.median(swift), statistics.median(boto)
plan = json.load(open(f"{work}/plan.json"))
calls = json.load(open(f"{work}/swift.calls"))
print(f"bench/plan: {len(swift)} runs each, {delay} ms added to every request")
print(f"  reconciler plan (regions and reads concurrent): median {ms*1000:.0f} ms  (min {min(swift)*1000:.0f}, max {max(swift)*1000:.0f})")
print(f"  boto3, same reads one after another:            median {mb*1000:.0f} ms  (min {min(boto)*1000:.0f}, max {max(boto)*1000:.0f})")
print(f"  ratio: {mb/ms:.1f}x faster (target: at least 4x)")
print(f"  plan: {'no changes' if not plan['plan']['regions'] or all(not r['steps'] for r in plan['plan']['regions']) else 'CHANGES'}; API calls of a no-change plan per region (reconciler's count / proxy's count):")
for region in sorted(set(plan["apiCalls"]) | set(calls)):
    print(f"    {region}: {plan['apiCalls'].get(region, 0)} / {calls.get(region, 0)}")
print(f"  total {sum(plan['apiCalls'].values())} (boto3 script: {open(f'{work}/boto3.count').read().strip()})")
PY
