#!/usr/bin/env bash
# The daemon's costs, against MiniStack on loopback (signatures and IAM checked), bundled desired state:
#   - resident memory of an idle `reconciler run` sampled over several minutes (growth ratio);
#   - CPU time per idle poll, against one `reconciler validate` process (same repository) as baseline;
#   - commit-to-plan latency (commit → the daemon's plan for it), against a one-shot `reconciler plan`.
# Usage: bench/daemon/run.sh [IDLE_SECONDS=180] [POLL_SECONDS=5]; SERVER=1 adds a [server] table (run's HTTP server on a free loopback port).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
idle="${1:-180}"; poll="${2:-5}"
bash scripts/bootstrap.sh >/dev/null
# CONFIGURATION=release for optimised figures (a longer first build).
configuration="${CONFIGURATION:-debug}"
swift build -c "$configuration" --product reconciler >/dev/null 2>&1
bin="$(swift build -c "$configuration" --show-bin-path)/reconciler"
work="$(mktemp -d "${TMPDIR:-/tmp}/reconciler-bench-daemon.XXXXXX")"
source scripts/emulator.sh
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.3; for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; stop_emulator; rm -rf "$work"; }
trap cleanup EXIT

start_emulator "$work"

repo="$work/repo"; mkdir -p "$repo"; cp -R desired-state "$repo/desired-state"
git -C "$repo" init -q -b main && git -C "$repo" add -A && git -C "$repo" -c user.name=bench -c user.email=bench@localhost commit -q -m "bundled desired state"
cat >"$work/controller.conf" <<CONF
[source]
repository = "$repo"
[aws]
endpoint = "$endpoint"
[apply]
python = "$root/.venv/bin/python"
poll_seconds = 1
[state]
directory = "$work/state"
[approval]
recipients = ["releases@dzgro.com"]
sender = "reconciler@dzgro.com"
ses_region = "ap-south-1"
[intervals]
poll_seconds = $poll
drift_seconds = 86400
jitter_percent = 0
CONF
if [ "${SERVER:-0}" = 1 ]; then printf '[server]\naddress = "127.0.0.1:0"\n' >>"$work/controller.conf"; fi
.venv/bin/python scripts/emulator_client.py verify-sender "$endpoint" ap-south-1 reconciler@dzgro.com
ticks=$(getconf CLK_TCK)
cpu() { awk -v t="$ticks" '{print ($14+$15)/t}' "/proc/$1/stat"; }
rss() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }

RECONCILER_LOG_LEVEL=debug "$bin" run --config "$work/controller.conf" 2>"$work/run.log" & daemon=$!; pids+=($daemon)
for _ in $(seq 600); do grep -q '"cycle finished"' "$work/run.log" 2>/dev/null && break; sleep 0.2; done
polls() { grep -c '"message":"poll"' "$work/run.log"; }
echo "idle for $idle s, polling every $poll s (drift checks off)…" >&2
rss0=$(rss $daemon); cpu0=$(cpu $daemon); polls0=$(polls)
samples=("$rss0")
for _ in $(seq $((idle / 10))); do sleep 10; samples+=("$(rss $daemon)"); done
rss1=$(rss $daemon); cpu1=$(cpu $daemon); polls1=$(polls)
# Where the idle daemon's resident memory is: its own binary, each group of libraries, and
# anonymous memory (heap, thread stacks), from /proc/PID/smaps.
python3 - "$daemon" >"$work/breakdown.txt" <<'PY'
import collections, re, sys
pid = sys.argv[1]
groups, anon, name = collections.Counter(), 0, None
def group(path):
    if not path.startswith("/"): return "anonymous (heap, thread stacks, runtime caches)" if path in ("", "[heap]", "[stack]") or path.startswith("[anon") else path
    base = path.rsplit("/", 1)[-1].removesuffix(" (deleted)")  # a binary rebuilt while it runs
    if base == "reconciler": return "the reconciler binary"
    if "FoundationICU" in base or base.startswith("libicu"): return "ICU (through Foundation)"
    if base.startswith(("libFoundation", "libswift", "lib_Foundation", "libdispatch", "libBlocksRuntime")): return "Swift runtime and Foundation"
    if base.startswith(("libcrypto", "libssl", "libgnutls", "libmbed", "libnettle", "libhogweed", "libgmp", "libp11", "libtasn1", "libk5crypto")): return "TLS and crypto (curl, libgit2)"
    if base.startswith(("libcurl", "libgit2", "libssh", "libnghttp", "libidn", "librtmp", "libpsl", "libldap", "liblber", "libbrotli", "libzstd", "libz.", "libxml2", "libgssapi", "libkrb5", "libsasl", "libunistring", "libffi", "libhttp_parser", "libpcre", "libkeyutils", "libcom_err", "libkrb5support", "liblzma", "libresolv")): return "curl, libgit2 and their libraries"
    if base.startswith(("libc.", "libm.", "libstdc++", "libgcc", "ld-linux", "libpthread", "libdl", "librt", "libutil")): return "C and C++ runtime"
    return "other files"
for line in open(f"/proc/{pid}/smaps"):
    m = re.match(r"^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$", line)
    if m: name = m.group(1).strip(); continue
    if line.startswith("Rss:"): groups[group(name)] += int(line.split()[1])
threads = len(__import__("os").listdir(f"/proc/{pid}/task"))
print(f"  breakdown of the idle RSS ({threads} threads):")
for what, kb in groups.most_common():
    if kb >= 52: print(f"    {kb/1024:6.1f} MiB  {what}")
PY

# Baselines in the same run: a whole process reading the same repository, and a one-shot plan.
validate_cpu=$(python3 -c "import resource,subprocess,sys; subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL); r=resource.getrusage(resource.RUSAGE_CHILDREN); print(r.ru_utime+r.ru_stime)" "$bin" validate --config "$work/controller.conf")
plan_start=$(date +%s.%N); "$bin" plan --config "$work/controller.conf" >/dev/null 2>&1 || true; plan_end=$(date +%s.%N)

# Commit-to-plan: a commit that changes every stack; the daemon's "applying" line for it.
sed -i 's/messageRetentionDays: 4/messageRetentionDays: 5/' "$repo/desired-state/queues.yaml"
committed=$(date +%s.%N)
git -C "$repo" -c user.name=bench -c user.email=bench@localhost commit -qam "retention 5 days"
commit=$(git -C "$repo" rev-parse HEAD)
for _ in $(seq 600); do grep -q "\"applying\".*" "$work/run.log" && grep "\"applying\"" "$work/run.log" | grep -q "$commit" && break; sleep 0.05; done
planned=$(grep "\"applying\"" "$work/run.log" | grep "$commit" | head -1 | python3 -c "import sys,json,datetime;print(datetime.datetime.fromisoformat(json.loads(sys.stdin.read())['time'].replace('Z','+00:00')).timestamp())")

BREAKDOWN="$work/breakdown.txt" python3 - "$rss0" "$rss1" "$cpu0" "$cpu1" "$polls0" "$polls1" "$validate_cpu" "$plan_start" "$plan_end" "$committed" "$planned" "$poll" "${samples[@]}" <<'PY'
import sys
a = sys.argv[1:]
rss0, rss1 = int(a[0]), int(a[1]); cpu0, cpu1 = float(a[2]), float(a[3]); p0, p1 = int(a[4]), int(a[5])
validate_cpu = float(a[6]); plan = float(a[8]) - float(a[7]); latency = float(a[10]) - float(a[9]); poll = float(a[11])
samples = [int(x) for x in a[12:]]
per_poll = (cpu1 - cpu0) / max(1, p1 - p0)
print(f"idle RSS{' (HTTP server on)' if __import__('os').environ.get('SERVER') == '1' else ''}: {rss0/1024:.1f} MiB at start, {rss1/1024:.1f} MiB after {len(samples)*10-10} s (max {max(samples)/1024:.1f} MiB); growth ratio {rss1/rss0:.3f}")
print(open(__import__("os").environ["BREAKDOWN"]).read(), end="")
print(f"CPU per idle poll: {per_poll*1000:.2f} ms over {p1-p0} polls; one `reconciler validate` process: {validate_cpu*1000:.0f} ms; ratio {per_poll/validate_cpu if validate_cpu else float('nan'):.3f}")
print(f"commit-to-plan latency: {latency:.2f} s with poll_seconds {poll:g} (expected under one poll interval plus a plan); one-shot `reconciler plan`: {plan:.2f} s; ratio {latency/plan:.2f}")
PY
