#!/usr/bin/env bash
# bench/approve: `reconciler approve` of a release of 28 alias moves (7 functions x 4 regions,
# a synthetic desired state from bench/scale/generate.py) against MiniStack behind the delay
# proxy, at each delay. Each run releases staging to the other version (2, then back to 1, ...),
# requested by `apply` with no delay; only `approve` goes through the proxy. Prints per delay the
# median time of `approve`, its critical-path depth (from the proxy's timeline), and the ratio of
# its time to 3 request latencies (the issue's bound: the re-read, the moves, and one more).
#   bench/approve/run.sh [RUNS] [DELAY_MS...]   (default: 3 runs at 50 and 150 ms; BUILD=debug to skip the release build)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
runs="${1:-3}"; delays=("${@:2}"); [ ${#delays[@]} -gt 0 ] || delays=(50 150); build="${BUILD:-release}"
source bench/common.sh
start_emulator "$work"

repo="$work/repo"
"$py" bench/scale/generate.py "$repo/desired-state" --functions 7
git -C "$repo" init -q -b main && git -C "$repo" add -A
commit() { git -C "$repo" -c user.name=bench -c user.email=bench@localhost commit -q -am "$1"; }
git -C "$repo" -c user.name=bench -c user.email=bench@localhost commit -q -m "7 functions in 4 regions"
conf() { # endpoint → controller.conf
    cat >"$work/$2" <<CONF
[source]
repository = "$repo"
branch = "main"
subdirectory = "desired-state"
[aws]
endpoint = "$1"
[apply]
python = "$py"
poll_seconds = 1
[state]
directory = "$work/state"
[approval]
recipients = ["releases@bench.example"]
sender = "reconciler@bench.example"
ses_region = "ap-south-1"
CONF
}
conf "$endpoint" direct.conf
"$py" scripts/emulator_client.py verify-sender "$endpoint" ap-south-1 reconciler@bench.example
echo "[bench] deploying 7 functions in 4 regions, then version 2 of each (no delay)" >&2
"$bin" apply --config "$work/direct.conf" >/dev/null
for handler in "$repo"/desired-state/functions/*/handler.py; do printf '\n# version 2\n' >>"$handler"; done
commit "version 2 of every function"
"$bin" apply --config "$work/direct.conf" >/dev/null

version=1
for delay in "${delays[@]}"; do
    start_proxy "$delay"
    conf "$proxy" "proxied-$delay.conf"
    echo "[bench] $runs releases of 28 aliases, $delay ms added to every request of approve" >&2
    for i in $(seq "$runs"); do
        version=$((3 - version))
        "$py" - "$repo/desired-state/releases.yaml" "$version" <<'PY'
import re, sys
path, version = sys.argv[1], sys.argv[2]
text, out, section = open(path).read(), [], None
for line in text.splitlines():
    if not line.startswith(" "):
        section = line.rstrip(":")
    elif section == "staging" and line.startswith("    "):
        line = re.sub(r": \d+$", f": {version}", line)
    out.append(line)
open(path, "w").write("\n".join(out) + "\n")
PY
        commit "release staging: version $version everywhere"
        "$bin" apply --config "$work/direct.conf" >"$work/apply.out"
        code="$("$py" scripts/emulator_client.py mail "$endpoint" 2>/dev/null)"
        curl -s -X DELETE "$proxy/__timeline" >/dev/null; curl -s -X DELETE "$proxy/__calls" >/dev/null
        printf '%s\n' "$code" | "$py" bench/timed.py "$work/approve-$delay.times" \
            "$bin" approve --otp - --config "$work/proxied-$delay.conf" >"$work/approve.out" 2>&1 \
            || { cat "$work/approve.out" >&2; exit 1; }
        unset code
        curl -s "$proxy/__timeline" >"$work/approve-$delay.timeline.$i"
    done
done
cp "$work/approve.out" "$work/last-approve.out"
python3 - "$work" "$runs" "${delays[@]}" <<'PY'
import json, statistics, sys
from collections import Counter
sys.path.insert(0, "bench")
from critical_path import chain, outside
work, runs, delays = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
print(f"bench/approve: `reconciler approve` of a release of 28 alias moves (7 functions x 4 regions), {runs} runs per delay, MiniStack behind scripts/delay_proxy.py")
print("  bound: 3 request latencies; depth: the longest chain of requests each sent after the previous was answered")
print(f"  {'delay':>6}  {'approve':>8}  {'depth':>5}  {'3 x delay':>9}  {'approve/(3 x delay)':>19}  calls")
for delay in delays:
    spans = [tuple(map(float, line.split()[:2])) for line in open(f"{work}/approve-{delay}.times")]
    took = statistics.median(b - a for a, b in spans)
    timelines = [json.load(open(f"{work}/approve-{delay}.timeline.{i}")) for i in range(1, runs + 1)]
    depth = statistics.median(len(chain(t)) for t in timelines)
    bound = 3 * int(delay) / 1000
    print(f"  {delay:>4} ms  {took*1000:>5.0f} ms  {depth:>5.0f}  {bound*1000:>6.0f} ms  {took/bound:>18.2f}x  {len(timelines[-1])}")
    ops = Counter({"GET": "GetAlias", "PUT": "UpdateAlias"}.get(r[2].split(" ")[0], r[2]) if "/aliases/" in r[2] else r[2].split(" ", 2)[2] for r in timelines[-1])
    print("    by operation: " + ", ".join(f"{n}x {op}" for op, n in sorted(ops.items())))
    parts = [outside(chain(t), a, b) for t, (a, b) in zip(timelines, spans)]
    before, gaps, after, inside = (statistics.median(p[k] for p in parts) for k in range(4))
    print(f"    outside the requests: {before*1000:.0f} ms before the first (start-up, the approvals file, the code), {gaps*1000:.0f} ms between, "
          f"{after*1000:.0f} ms after the last (saving, the audit line); the critical path's requests took {inside*1000:.0f} ms in the proxy")
    print("    critical path: " + " → ".join(r[2] for r in chain(timelines[-1])))
print("  the last approve said:")
for line in open(f"{work}/last-approve.out").read().splitlines()[-6:]:
    print("    " + line)
PY
