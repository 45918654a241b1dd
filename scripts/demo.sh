#!/usr/bin/env bash
# The main job on the bundled default, against a local AWS emulator that runs the full
# SAM templates (MiniStack, loopback only, every request signature- and IAM-checked):
#   installs what it needs, puts the default desired state in a fresh git repository
#   (release commits go there, not into this one), runs `reconciler plan`, `apply` and
#   `plan` again to show nothing is left to do, and shows what was deployed; then a
#   release: a code commit reaches dev only, `promote staging` commits the pins, `apply`
#   holds them and mails the code, and `approve` with the code read from the emulator's
#   outbox moves staging in every region. Invocations show which version each alias runs.
#   Last, prod gets a rollout policy: its release shifts traffic 10 %, 50 %, 100 % (three
#   seconds a step), each step checked against an alarm and the alias's errors.
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
source scripts/emulator.sh
trap 'stop_emulator; rm -rf "$work"' EXIT

say "starting the emulator (MiniStack on loopback; signatures and IAM policies checked for the key the controller gets)"
start_emulator "$work"
echo "emulator at $endpoint"
emulator() { .venv/bin/python scripts/emulator_client.py "$1" "$endpoint" "${@:2}"; }
regions=(ap-south-1 eu-west-1 us-east-1 us-west-2)

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

[apply]
python = "$root/.venv/bin/python"
poll_seconds = 1

[state]
directory = "$work/state"

[approval]
recipients = ["dzgrotechnologies@gmail.com"]
sender = "noreply@dzgro.com"
ses_region = "ap-south-1"
CONF
run() { echo "\$ reconciler $* --config controller.conf" >&2; "$bin" "$@" --config "$work/controller.conf"; }
invoke() { # REGION FUNCTION ALIAS: the Api health route through one alias
    emulator invoke "$1" "$2" "$3" '{"rawPath": "/api/health", "requestContext": {"http": {"method": "GET"}}}' | python3 -c '
import json, sys
result = json.load(sys.stdin)
version, environment = result["executedVersion"], json.loads(json.loads(result["payload"])["body"])["environment"]
print(f"  {sys.argv[1]}:{sys.argv[2]:<8} ran version {version}; the handler says it serves {environment}")' "$2" "$3"
}

say "account set-up (on AWS, once): the sender of release codes is verified in SES"
emulator verify-sender ap-south-1 noreply@dzgro.com

say "plan (exit 2: there are changes)"
status=0; run plan --detailed-exitcode || status=$?
[ "$status" -eq 2 ] || { echo "expected plan to exit 2, got $status" >&2; exit 1; }

say "apply (layers are built with pip for the Lambda platform; the first build downloads wheels from PyPI)"
run apply

say "plan again (exit 0: nothing left to do)"
run plan --detailed-exitcode

say "what is deployed now (read back from the emulator)"
emulator summary "${regions[@]}"

say "new code for the Api function, committed: apply moves its dev alias only"
printf '\n# v2: a change reviewed and merged\n' >>"$repo/desired-state/functions/api/handler.py"
git -C "$repo" -c user.name=demo -c user.email=demo@localhost commit -q -am "Api: new code"
run apply
invoke ap-south-1 ApiFunction dev
invoke ap-south-1 ApiFunction staging

say "promote staging: a commit pinning what dev runs (nothing moves yet)"
run promote staging --yes
git -C "$repo" log --oneline -3

say "apply: the staging change is held, and its one-time password is mailed"
run apply

say "approvals: what waits for a code"
run approvals

say "the team's mailbox (the emulator's outbox); the code is masked here and kept out of every log"
code="$(emulator mail)"

say "approve with the code from the mail (passed on standard input, so it is not echoed)"
echo "\$ reconciler approve --otp - --config controller.conf" >&2
printf '%s\n' "$code" | "$bin" approve --otp - --config "$work/controller.conf"
unset code

say "staging now runs the released version; dev and staging each through their own alias"
invoke ap-south-1 ApiFunction dev
invoke ap-south-1 ApiFunction staging
invoke ap-south-1 ApiFunction prod

say "plan again (exit 0: staging runs the released versions everywhere)"
run plan --detailed-exitcode

say "status: held releases and the audit log"
run status

echo "apply log: $(wc -l <"$work/state/apply-log.jsonl") entries; audit log: $(wc -l <"$work/state/audit.jsonl") entries (removed with the demo's temporary directory)"
say "prod rolls out in steps: a commit gives it a rollout policy (seconds per step here; minutes in earnest)"
python3 - "$repo/desired-state/project.yaml" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read().replace("  prod: {alias: gated}", """  prod:
    alias: gated
    rollout:
      steps: [[10%, 3s], [50%, 3s], [100%]]
      alarms: [dzgro-prod-errors]
      metrics: {errors: 0, throttles: 0}""")
open(path, "w").write(text)
PY
git -C "$repo" -c user.name=demo -c user.email=demo@localhost commit -q -am "prod rolls out 10%, 50%, then 100%, watching its alarm and errors"
emulator alarm dzgro-prod-errors OK "${regions[@]}"
echo "the team's alarm dzgro-prod-errors exists (OK) in ${regions[*]}"

say "promote prod and apply: held, and the mail says how it will roll out"
run promote prod --yes
run apply
code="$(emulator mail)"

say "approve, leaving the steps to the controller (--no-follow); rollout status shows each alias's weight"
printf '%s\n' "$code" | "$bin" approve --otp - --no-follow --config "$work/controller.conf"
unset code
run rollout status prod

say "rollout follow: walk the rest in the foreground (what a plain approve, or the daemon, does)"
run rollout follow prod
invoke ap-south-1 ApiFunction prod

say "the audit log of the rollout: every shift and check, with the values that decided it"
run status --last 8 | sed -n '/^Audit log/,$p'

say "done"
