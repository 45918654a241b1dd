# Sourced by bench/plan, bench/approve and bench/scale after they set $root and $build:
# builds the binary ($bin, in the $build configuration), names .venv's Python ($py), makes a work
# directory ($work, removed on exit with every process started here), and gives
#   start_emulator DIR / stop_emulator   (scripts/emulator.sh: MiniStack on loopback)
#   start_proxy DELAY_MS [RPS]           a delay proxy in front of $endpoint; sets $proxy (RPS: it refuses
#                                        beyond that many requests/s per service and region, as AWS does)
bash scripts/bootstrap.sh >&2
# BIN=PATH runs a binary built elsewhere (e.g. the commit before a change) instead of building.
if [ -n "${BIN:-}" ]; then bin="$BIN"; else
    swift build -c "$build" --product reconciler >&2
    bin="$(swift build -c "$build" --show-bin-path)/reconciler"
fi
py="$root/.venv/bin/python"
work="$(mktemp -d "${TMPDIR:-/tmp}/reconciler-bench.XXXXXX")"
source scripts/emulator.sh
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; stop_emulator; rm -rf "$work"; }
trap cleanup EXIT
field() { python3 -c "import json,sys;print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
start_proxy() {
    local fifo hello
    fifo="$(mktemp -u "$work/proxy.XXXXXX")"; mkfifo "$fifo"
    THROTTLE_RPS="${2:-}" "$py" scripts/delay_proxy.py "${endpoint##*:}" "$1" >"$fifo" & pids+=($!)
    read -r hello <"$fifo"
    proxy="http://127.0.0.1:$(field "$hello" port)"
}
