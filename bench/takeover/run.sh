#!/usr/bin/env bash
# Two `reconciler run` on one shared state (S3 on MiniStack, signatures and IAM checked), as two
# hosts with their own local directories:
#   - takeover: kill -9 of the leader → the standby leads; seconds, and the ratio to the lease
#     (the bound is the lease plus a standby's retry, a third of it: 1.33x);
#   - what an idle standby costs: its requests per minute, through a counting proxy, against the
#     leader's over the same minute;
#   - `reconciler status` as the standby's host sees it.
# Usage: bench/takeover/run.sh [TRIALS=5] [LEASE_SECONDS=30]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
trials="${1:-5}"; lease="${2:-30}"
build="${BUILD:-debug}"
source bench/common.sh
start_emulator "$work"
"$py" scripts/emulator_client.py shared-state "$endpoint" eu-west-1 team-state team/ >/dev/null
repo="$work/repo"; mkdir -p "$repo"; cp -R desired-state "$repo/desired-state"
git -C "$repo" init -q -b main && git -C "$repo" add -A && git -C "$repo" -c user.name=bench -c user.email=bench@localhost commit -q -m "bundled desired state"
start_proxy 0
conf() {  # conf NAME ENDPOINT
    cat >"$work/$1.conf" <<CONF
[source]
repository = "$repo"
[aws]
endpoint = "$2"
[apply]
python = "$py"
[state]
directory = "$work/$1"
backend = "s3://team-state/team/"
backend_region = "eu-west-1"
kms_key_id = "alias/reconciler-approvals"
lease_seconds = $lease
[approval]
recipients = ["releases@dzgro.com"]
sender = "reconciler@dzgro.com"
ses_region = "ap-south-1"
CONF
}
# The standby (b) reaches AWS through the counting proxy, the leader (a) directly.
conf a "$endpoint"; conf b "$proxy"
now_ms() { date +%s%3N; }
led_at() { python3 - "$1" <<'PY'
import json, sys, datetime
for line in open(sys.argv[1]):
    try: entry = json.loads(line)
    except ValueError: continue
    if entry.get("message") == "leading":
        print(int(datetime.datetime.fromisoformat(entry["time"].replace("Z", "+00:00")).timestamp() * 1000)); break
PY
}
calls() { curl -s "$proxy/__calls" | python3 -c "import json,sys;print(sum(json.load(sys.stdin).values()))"; }
times=()
for trial in $(seq "$trials"); do
    : >"$work/a.log"; : >"$work/b.log"
    RECONCILER_LOG_LEVEL=info "$bin" run --config "$work/a.conf" 2>"$work/a.log" & a=$!; pids+=($a)
    for _ in $(seq 300); do [ -n "$(led_at "$work/a.log")" ] && break; sleep 0.2; done
    RECONCILER_LOG_LEVEL=info "$bin" run --config "$work/b.conf" 2>"$work/b.log" & b=$!; pids+=($b)
    for _ in $(seq 300); do grep -q '"standing by"' "$work/b.log" && break; sleep 0.2; done
    if [ "$trial" = 1 ]; then
        echo "status, from the standby's host:" >&2
        "$bin" status --config "$work/b.conf" --last 3 | sed 's/^/  /' >&2 || true
        # The leader's first cycle (applying the application) is over before the minute is counted.
        for _ in $(seq 600); do grep -q '"cycle finished"' "$work/a.log" && break; sleep 0.2; done
        c0=$(calls); sleep 60; c1=$(calls)
        standby_calls=$((c1 - c0))
    fi
    kill -9 "$a"; killed=$(now_ms)
    for _ in $(seq $((lease * 10 + 200))); do [ -n "$(led_at "$work/b.log")" ] && break; sleep 0.1; done
    took=$(( $(led_at "$work/b.log") - killed ))
    times+=("$took")
    echo "trial $trial: the standby led $(awk -v t="$took" 'BEGIN{printf "%.1f", t/1000}') s after kill -9 of the leader" >&2
    kill "$b"; wait "$b" 2>/dev/null || true; wait "$a" 2>/dev/null || true
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{v[NR]=$1} END{print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}')
printf 'bench/takeover: two daemons on one S3 state, lease %d s (a standby retries every %.1f s)\n' "$lease" "$(awk -v l="$lease" 'BEGIN{print l/3}')"
printf '  takeover after kill -9 of the leader: median %.1f s of %d (%s ms), %.2fx the lease (bound %.2fx)\n' \
    "$(awk -v m="$median" 'BEGIN{print m/1000}')" "$trials" "$(IFS=,; echo "${times[*]}")" "$(awk -v m="$median" -v l="$lease" 'BEGIN{print m/1000/l}')" 1.33
printf '  an idle standby: %d requests in 60 s, against the %d/min its leader makes renewing the lease\n' "$standby_calls" "$((180 / lease))"
