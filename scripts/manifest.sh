#!/usr/bin/env bash
# Prints the Slack app manifest (manifest.json) with its URLs filled from the stack's outputs:
# the events, commands, interactivity and OAuth redirect URLs (outputs SlackEventsUrl,
# SlackCommandsUrl, SlackInteractionsUrl, SlackRedirectUrl of template.yaml).
#   aws cloudformation describe-stacks --stack-name STACK --output json | scripts/manifest.sh
#   scripts/manifest.sh outputs.json > slack-manifest.json
# The input is describe-stacks output ({"Stacks":[{"Outputs":[...]}]}) or just its Outputs
# array, read from the file named or from stdin. Paste the result into the Slack app's
# "App Manifest" page (api.slack.com/apps > your app), or create the app from it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
input="${1:--}"
if [[ "$input" != "-" && ! -f "$input" ]]; then
  echo "no such file: $input" >&2
  exit 2
fi
# The program is an argument, so stdin stays free for the outputs.
read -r -d '' PROGRAM <<'PY' || true
import json, sys

src, manifest_path = sys.argv[1], sys.argv[2]
try:
    data = json.load(sys.stdin if src == "-" else open(src))
except ValueError as e:
    sys.exit(f"the stack outputs are not JSON: {e}")
if isinstance(data, dict) and "Stacks" in data:
    if len(data["Stacks"]) != 1:
        sys.exit("describe-stacks output must hold exactly one stack (use --stack-name)")
    data = data["Stacks"][0].get("Outputs", [])
outputs = {o["OutputKey"]: o["OutputValue"] for o in data if "OutputKey" in o}

def url(key):
    v = outputs.get(key, "")
    if not v.startswith("https://"):
        sys.exit(f"stack output {key} is missing or not an https URL (got {v!r})")
    return v

m = json.load(open(manifest_path))
for c in m["features"]["slash_commands"]:
    c["url"] = url("SlackCommandsUrl")
m["oauth_config"]["redirect_urls"] = [url("SlackRedirectUrl")]
m["settings"]["event_subscriptions"]["request_url"] = url("SlackEventsUrl")
m["settings"]["interactivity"]["request_url"] = url("SlackInteractionsUrl")
json.dump(m, sys.stdout, indent=2)
sys.stdout.write("\n")
PY
exec python3 -c "$PROGRAM" "$input" "$root/manifest.json"
