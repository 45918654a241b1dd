#!/usr/bin/env bash
# The main job on the bundled default, against a local AWS emulator:
#   installs what it needs, starts moto on loopback (every request signature-checked),
#   puts the default desired state in a fresh git repository (release commits go there,
#   not into this one), then runs `reconciler plan` and `apply`, and `plan` once more to
#   show nothing is left to do; then a release: new code reaches dev, `promote staging`
#   commits the pins, `apply` holds them and mails the code, and `approve` with the code
#   read from the emulator's outbox moves staging in every region.
# moto's CloudFormation cannot run SAM templates: the output says what it skipped, and
# what the release steps need is created directly, labelled "[emulator stand-in]".
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
say() { printf '\n[demo] %s\n' "$*" >&2; }

bash scripts/bootstrap.sh
say "building reconciler"
swift build --product reconciler
bin="$(swift build --show-bin-path)/reconciler"
"$bin" --help >/dev/null

work="$(mktemp -d "${TMPDIR:-/tmp}/reconciler-demo.XXXXXX")"
moto_pid=""
cleanup() { [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null; sleep 0.3; [ -n "$moto_pid" ] && kill -9 "$moto_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

say "starting the emulator (moto, loopback, signatures checked)"
mkfifo "$work/hello"
.venv/bin/python scripts/moto_server.py 0 >"$work/hello" 2>"$work/moto.log" &
moto_pid=$!
read -r hello <"$work/hello"
field() { python3 -c "import json,sys;print(json.loads(sys.argv[1])[sys.argv[2]])" "$hello" "$1"; }
port="$(field port)"; role="$(field roleArn)"
export AWS_ACCESS_KEY_ID="$(field accessKeyId)" AWS_SECRET_ACCESS_KEY="$(field secretAccessKey)"
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL
endpoint="http://127.0.0.1:$port"
for _ in $(seq 50); do curl -sf "$endpoint/moto-api/" >/dev/null 2>&1 && break; sleep 0.1; done
echo "emulator at $endpoint"

# The desired state: the bundled default, committed to a repository made for the demo.
repo="$work/repo"
mkdir -p "$repo"
cp -R desired-state "$repo/desired-state"
git -C "$repo" init -q -b main
git -C "$repo" add -A
git -C "$repo" -c user.name=demo -c user.email=demo@localhost commit -q -m "Desired state (bundled default)"
cat >"$work/controller.conf" <<CONF
[source]
repository = "$repo"
branch = "main"
subdirectory = "desired-state"

[source.author]
name = "reconciler"
email = "reconciler@dzgro.com"

[aws]
endpoint = "$endpoint"
emulator = true

[apply]
python = "$root/.venv/bin/python"
poll_seconds = 1

[state]
directory = "$work/state"

[approval]
recipients = ["releases@dzgro.com"]
sender = "reconciler@dzgro.com"
ses_region = "ap-south-1"
CONF
run() { echo "\$ reconciler $* --config controller.conf" >&2; "$bin" "$@" --config "$work/controller.conf"; }

say "creating directly what the emulator's CloudFormation cannot (labelled as such)"
emulator() { .venv/bin/python scripts/demo_emulator.py "$1" "$endpoint" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$role" desired-state "${@:2}"; }
emulator seed reconciler@dzgro.com ap-south-1

say "plan (exit 2: there are changes)"
status=0; run plan --detailed-exitcode || status=$?
[ "$status" -eq 2 ] || { echo "expected plan to exit 2, got $status" >&2; exit 1; }

say "apply (layers are built with pip for the Lambda platform; the first build downloads wheels from PyPI)"
run apply

say "plan again (exit 0: nothing left to do)"
run plan --detailed-exitcode

say "a release: new code reaches dev in every region"
emulator deploy

say "promote staging: a commit pinning what dev runs (nothing moves yet)"
run promote staging --yes
git -C "$repo" log --oneline -2

say "apply: the staging change is held, and its one-time password is mailed"
run apply

say "approvals: what waits for a code"
run approvals

say "the team's mailbox (the emulator's outbox); the code is masked here and kept out of every log"
code="$(.venv/bin/python scripts/demo_emulator.py mail "$endpoint")"

say "approve with the code from the mail (passed on standard input, so it is not echoed)"
echo "\$ reconciler approve --otp - --config controller.conf" >&2
printf '%s\n' "$code" | "$bin" approve --otp - --config "$work/controller.conf"
unset code

say "plan again (exit 0: staging runs the released versions everywhere)"
run plan --detailed-exitcode

say "status: held releases and the audit log"
run status

say "summary: what is in the emulator now"
.venv/bin/python scripts/demo_emulator.py summary "$endpoint" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$role" desired-state
echo "apply log: $(wc -l <"$work/state/apply-log.jsonl") entries; audit log: $(wc -l <"$work/state/audit.jsonl") entries (removed with the demo's temporary directory)"
say "done"
