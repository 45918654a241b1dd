# Sourced by the demo and the benchmarks: MiniStack on a free loopback port through
# scripts/ministack_server.py, every request of the IAM user's key signature- and
# IAM-checked.
#   start_emulator DIR   starts it (log in DIR/emulator.log); sets $endpoint, $account
#                        and $emulator_pid, exports the key as AWS_ACCESS_KEY_ID/SECRET
#   stop_emulator        stops it (the launcher stops MiniStack and its Lambda workers)
start_emulator() {
    local dir="$1" hello
    mkfifo "$dir/emulator.hello"
    "$root/.venv/bin/python" "$root/scripts/ministack_server.py" 0 >"$dir/emulator.hello" 2>"$dir/emulator.log" &
    emulator_pid=$!
    read -r hello <"$dir/emulator.hello" || { cat "$dir/emulator.log" >&2; return 1; }
    local fields
    fields="$(python3 -c 'import json,sys;h=json.loads(sys.argv[1]);print(h["port"],h["account"],h["accessKeyId"],h["secretAccessKey"])' "$hello")"
    read -r port account AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY <<<"$fields"
    export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
    unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL
    endpoint="http://127.0.0.1:$port"
}

stop_emulator() {
    [ -n "${emulator_pid:-}" ] || return 0
    kill "$emulator_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$emulator_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$emulator_pid" 2>/dev/null || true
    emulator_pid=""
}
